"""Classification metrics for spam scores: pure functions of labels and scores.

Labels are 1 for spam, 0 for ham. FPR is the share of ham marked spam, the
error that costs most: a lost legitimate message.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from sklearn.metrics import roc_auc_score


@dataclass(frozen=True, slots=True)
class Confusion:
    tp: int
    fp: int
    tn: int
    fn: int

    @property
    def precision(self) -> float:
        flagged = self.tp + self.fp
        return self.tp / flagged if flagged else 1.0

    @property
    def recall(self) -> float:
        spam = self.tp + self.fn
        return self.tp / spam if spam else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def fpr(self) -> float:
        ham = self.fp + self.tn
        return self.fp / ham if ham else 0.0


def confusion(
    labels: Sequence[int], scores: Sequence[float], threshold: float
) -> Confusion:
    """Counts with spam meaning ``score >= threshold``."""
    if len(labels) != len(scores):
        raise ValueError("labels and scores must have the same length")
    tp = fp = tn = fn = 0
    for label, score in zip(labels, scores, strict=True):
        flagged = score >= threshold
        if label == 1:
            tp, fn = (tp + 1, fn) if flagged else (tp, fn + 1)
        else:
            fp, tn = (fp + 1, tn) if flagged else (fp, tn + 1)
    return Confusion(tp, fp, tn, fn)


def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    """Area under the ROC curve; None when only one class is present."""
    if len(set(labels)) < 2:
        return None
    return float(roc_auc_score(list(labels), list(scores)))


@dataclass(frozen=True, slots=True)
class Report:
    """Everything ``mailray eval`` prints, at one operating threshold."""

    n: int
    threshold: float
    precision: float
    recall: float
    f1: float
    fpr: float
    roc_auc: float | None
    tp: int
    fp: int
    tn: int
    fn: int

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def report(labels: Sequence[int], scores: Sequence[float], threshold: float) -> Report:
    c = confusion(labels, scores, threshold)
    return Report(
        n=len(labels),
        threshold=threshold,
        precision=c.precision,
        recall=c.recall,
        f1=c.f1,
        fpr=c.fpr,
        roc_auc=roc_auc(labels, scores),
        tp=c.tp,
        fp=c.fp,
        tn=c.tn,
        fn=c.fn,
    )


def threshold_table(
    labels: Sequence[int],
    scores: Sequence[float],
    thresholds: Sequence[float] = (0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 0.99),
) -> list[dict[str, float]]:
    """Precision, recall, F1 and FPR at each threshold."""
    rows = []
    for threshold in thresholds:
        c = confusion(labels, scores, threshold)
        rows.append(
            {
                "threshold": threshold,
                "precision": c.precision,
                "recall": c.recall,
                "f1": c.f1,
                "fpr": c.fpr,
            }
        )
    return rows


def resolves_fpr(labels: Sequence[int], max_fpr: float) -> bool:
    """Whether a labelled set has enough ham to measure an FPR of ``max_fpr``.

    With fewer than 1 / max_fpr ham messages one false positive already
    exceeds the bound, so the set can only say "no false positive", and a
    threshold fitted to that is noise.
    """
    ham = sum(label == 0 for label in labels)
    return ham > 0 and ham * max_fpr >= 1


def pick_threshold(
    labels: Sequence[int],
    scores: Sequence[float],
    max_fpr: float = 0.0,
    floor: float = 0.5,
) -> float:
    """The lowest threshold whose FPR is at most ``max_fpr``, never below floor.

    Candidates sit midway between neighbouring distinct scores, so the
    threshold does not rest exactly on one validation message's score. The
    lowest such threshold keeps recall as high as the FPR bound allows.
    """
    if not 0 <= max_fpr < 1:
        raise ValueError(f"max_fpr must be in [0, 1): {max_fpr}")
    distinct = sorted(set(scores) | {floor})
    candidates = [floor] + [
        (a + b) / 2 for a, b in itertools.pairwise(distinct) if a >= floor
    ]
    for threshold in sorted(set(candidates)):
        if threshold >= floor and confusion(labels, scores, threshold).fpr <= max_fpr:
            return threshold
    return max(distinct[-1], floor) + 1e-6
