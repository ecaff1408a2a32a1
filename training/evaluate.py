"""Score a labelled corpus with a model version; optional bogofilter baseline.

``mailray eval`` prints the metrics at the version's operating threshold,
a threshold table, and writes a ROC and precision-recall PNG.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from serve.model import SpamModel
from storage.registry import ModelRegistry
from training.baseline import bogofilter_available, bogofilter_scores
from training.corpus import select, walk_corpus
from training.dataset import texts_of
from training.metrics import Report, report, threshold_table


@dataclass
class EvalOutcome:
    model_version: str
    split: str
    dtype: str
    report: Report
    table: list[dict[str, float]]
    texts_per_s: float
    baseline: dict[str, Any] | None = None
    plot_path: str | None = None
    labels: list[int] = field(default_factory=list, repr=False)
    scores: list[float] = field(default_factory=list, repr=False)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = self.report.to_json()
        out.update(
            model_version=self.model_version,
            split=self.split,
            dtype=self.dtype,
            texts_per_s=round(self.texts_per_s, 1),
            threshold_table=self.table,
            confusion_matrix={
                "ham": {"ham": self.report.tn, "spam": self.report.fp},
                "spam": {"ham": self.report.fn, "spam": self.report.tp},
            },
            baseline=self.baseline,
            plot=self.plot_path,
        )
        return out


def evaluate(
    registry: ModelRegistry,
    corpus: str | Path,
    *,
    version: str | None = None,
    split: str = "test",
    baseline: str | None = None,
    dtype: str = "auto",
    plot_path: str | Path | None = None,
    groups: Sequence[str] = (),
) -> EvalOutcome:
    """Score ``split`` of ``corpus`` with ``version`` (default: serving).

    ``groups`` keeps only those corpus folders (``hard_ham`` for a
    cross-source figure with a model trained without it).
    """
    if baseline not in (None, "bogofilter"):
        raise ValueError(f"baseline must be 'bogofilter' or absent: {baseline!r}")
    examples = walk_corpus(corpus, require_both=False)
    chosen = select(examples, split)
    if groups:
        chosen = [e for e in chosen if e.group in set(groups)]
    if not chosen:
        raise ValueError(f"split {split!r} of {corpus} is empty")
    version = version or registry.serving_version()
    model = SpamModel.load(registry.local_path(version), dtype=dtype, version=version)

    labels = [e.label for e in chosen]
    texts = texts_of(chosen)
    started = time.perf_counter()
    scores = model.predict(texts)
    elapsed = time.perf_counter() - started
    outcome = EvalOutcome(
        model_version=version,
        split=split,
        dtype=model.dtype,
        report=report(labels, scores, model.threshold),
        table=threshold_table(labels, scores),
        texts_per_s=len(texts) / max(elapsed, 1e-9),
        labels=labels,
        scores=scores,
    )

    baseline_scores = None
    if baseline == "bogofilter":
        if not bogofilter_available():
            outcome.baseline = {"name": "bogofilter", "error": "not installed"}
        else:
            train = select(examples, "train")
            baseline_scores = bogofilter_scores(train, chosen)
            outcome.baseline = {
                "name": "bogofilter",
                **report(labels, baseline_scores, 0.5).to_json(),
            }
    if plot_path is not None and len(set(labels)) == 2:
        from training.plots import write_curves

        curves = {f"mailray {version}": scores}
        if baseline_scores is not None:
            curves["bogofilter"] = baseline_scores
        write_curves(Path(plot_path), labels, curves, model.threshold, scores)
        outcome.plot_path = str(plot_path)
    return outcome


def render(outcome: EvalOutcome) -> None:
    """Print the outcome as rich tables."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    r = outcome.report
    summary = Table(title=f"{outcome.model_version} on the {outcome.split} split")
    headers = ("model", "n", "precision", "recall", "F1", "FPR", "ROC AUC", "threshold")
    for column in headers:
        summary.add_column(column, justify="right")
    rows = [("mailray", r.to_json())]
    if outcome.baseline and "f1" in outcome.baseline:
        rows.append(("bogofilter", outcome.baseline))
    for name, m in rows:
        auc = "-" if m["roc_auc"] is None else f"{m['roc_auc']:.4f}"
        summary.add_row(
            name,
            str(m["n"]),
            *(f"{m[k]:.4f}" for k in ("precision", "recall", "f1", "fpr")),
            auc,
            f"{m['threshold']:.4f}",
        )
    console.print(summary)
    console.print(
        f"confusion (rows actual, columns predicted): ham->ham {r.tn}, "
        f"ham->spam {r.fp}, spam->ham {r.fn}, spam->spam {r.tp}"
    )
    table = Table(title="threshold table")
    for column in ("threshold", "precision", "recall", "F1", "FPR"):
        table.add_column(column, justify="right")
    for row in outcome.table:
        keys = ("threshold", "precision", "recall", "f1", "fpr")
        table.add_row(*(f"{row[k]:.4f}" for k in keys))
    console.print(table)
    console.print(f"dtype {outcome.dtype}, {outcome.texts_per_s:.0f} texts/s")
    if outcome.plot_path:
        console.print(f"curves written to {outcome.plot_path}")
