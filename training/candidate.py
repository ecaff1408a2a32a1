"""One candidate: fine-tune on new feedback, gate it, publish it either way.

A rejected candidate is published too, with the gate's figures and reason
in its metrics and ``status.json``, so the registry says why it never
served. Lineage names the parent version, the feedback window and a hash
of the exact training data.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from cluster.config import Config
from serve.model import SpamModel
from serve.network import set_threshold
from storage.registry import ModelRegistry
from storage.root import StorageRoot
from training import gate
from training.finetune import finetune, training_rows
from training.labelled import (
    EVAL_SET,
    REPLAY_SET,
    VALIDATION_SET,
    LabelledText,
    data_hash,
    feedback_texts,
    held_out,
    read_dataset,
)
from training.metrics import pick_threshold, resolves_fpr
from training.trigger import FeedbackLabel

log = logging.getLogger("mailray.training")


@dataclass(frozen=True, slots=True)
class CandidateOutcome:
    version: str
    passed: bool
    reason: str
    metrics: dict[str, Any]
    lineage: dict[str, Any]


def gate_policy(config: Config) -> gate.GatePolicy:
    learning = config.learning
    return gate.GatePolicy(
        max_fpr_increase=learning.gate_max_fpr_increase,
        max_recall_drop=learning.gate_max_recall_drop,
        max_feedback_accuracy_drop=learning.gate_max_feedback_accuracy_drop,
        max_feedback_log_loss_increase=learning.gate_max_feedback_log_loss_increase,
        min_feedback=learning.gate_min_feedback,
    )


def _scores(model: SpamModel, rows: Sequence[LabelledText]) -> gate.SetScore | None:
    if not rows:
        return None
    scores = model.predict([r.text for r in rows])
    return gate.set_score([r.label for r in rows], scores, model.threshold)


def evaluate_pair(
    stable: SpamModel,
    candidate: SpamModel,
    eval_rows: Sequence[LabelledText],
    holdout_rows: Sequence[LabelledText],
) -> dict[str, gate.SetScore | None]:
    return {
        "stable_eval": _scores(stable, eval_rows),
        "candidate_eval": _scores(candidate, eval_rows),
        "stable_feedback": _scores(stable, holdout_rows),
        "candidate_feedback": _scores(candidate, holdout_rows),
    }


def build_candidate(
    config: Config,
    root: StorageRoot,
    registry: ModelRegistry,
    parent_version: str,
    new_labels: Sequence[FeedbackLabel],
    earlier_labels: Sequence[FeedbackLabel],
    flip_labels: bool = False,
    skip_gate: bool = False,
) -> CandidateOutcome:
    """Train, gate and publish one candidate from ``parent_version``.

    Sabotage drills, checking that a bad model is stopped: ``flip_labels``
    inverts the feedback labels it trains on (held-out feedback keeps the
    users' labels), ``skip_gate`` lets it through a failed gate.
    """
    learning = config.learning
    started = time.monotonic()
    texts = feedback_texts(root, new_labels)
    holdout = [r for r in texts if held_out(r.key, learning.holdout_fraction)]
    fresh = [r for r in texts if not held_out(r.key, learning.holdout_fraction)]
    if flip_labels:
        fresh = [LabelledText(r.key, r.text, 1 - r.label) for r in fresh]
    replay = read_dataset(root, REPLAY_SET)
    replay_source = "corpus"
    if not replay:
        seen = {r.key for r in texts}
        replay = [r for r in feedback_texts(root, earlier_labels) if r.key not in seen]
        replay_source = "earlier feedback"
    dtype = config.classifier.dtype
    stable = SpamModel.load(
        registry.local_path(parent_version), dtype=dtype, version=parent_version
    )
    # Users' own earlier labels are ground truth; the corpus is replayed as
    # the parent scores it, so the candidate keeps its calibration there.
    distill = learning.distill_replay and replay_source == "corpus"
    rows = training_rows(
        fresh,
        replay,
        learning.feedback_weight,
        learning.replay_size,
        seed=len(texts),
        teacher=stable.predict if distill else None,
    )
    eval_rows = read_dataset(root, EVAL_SET)

    with tempfile.TemporaryDirectory(prefix="mailray-finetune-") as workdir:
        fit_started = time.monotonic()
        folder = finetune(config, registry, parent_version, rows, workdir)
        fit_s = time.monotonic() - fit_started

        gate_started = time.monotonic()
        candidate = SpamModel.load(folder, dtype=dtype, version="candidate")
        validation = read_dataset(root, VALIDATION_SET)
        candidate, threshold_source = _operating_point(
            config, folder, candidate, validation
        )
        figures = evaluate_pair(stable, candidate, eval_rows, holdout)
        decision = gate.decide(gate_policy(config), **figures)
        if skip_gate and not decision.passed:
            decision = gate.GateDecision(
                True, f"forced past the gate: {decision.reason}"
            )
        gate_s = time.monotonic() - gate_started

        metrics: dict[str, Any] = {
            "gate": {
                "passed": decision.passed,
                "reason": decision.reason,
                **{k: v.to_json() if v else None for k, v in figures.items()},
            },
            "threshold": candidate.threshold,
            "threshold_source": threshold_source,
            "fit_s": round(fit_s, 1),
            "gate_s": round(gate_s, 1),
        }
        times = [e.recorded_at for e in new_labels]
        lineage = {
            "parent_version": parent_version,
            "feedback_window": {
                "from": min(times).isoformat() if times else None,
                "to": max(times).isoformat() if times else None,
            },
            "data_hash": data_hash(rows),
            "counts": {
                "feedback": len(fresh),
                "held_out_feedback": len(holdout),
                "replay": len(rows) - len(fresh) * learning.feedback_weight,
                "replay_source": replay_source,
                "eval": len(eval_rows),
            },
            "flipped_labels": flip_labels,
            "gate_skipped": skip_gate,
            "created_at": _now_iso(),
            "learning": learning.model_dump(mode="json"),
        }
        version = registry.publish(folder, metrics=metrics, lineage=lineage)
    log.info(
        "%s: candidate from %s %s in %.0f s (%s)",
        version,
        parent_version,
        "passed the gate" if decision.passed else "rejected",
        time.monotonic() - started,
        decision.reason,
    )
    return CandidateOutcome(version, decision.passed, decision.reason, metrics, lineage)


def _operating_point(
    config: Config,
    folder: Path,
    candidate: SpamModel,
    validation: Sequence[LabelledText],
) -> tuple[SpamModel, str]:
    """The candidate at its operating threshold, and where that came from.

    Fine-tuning moves a model's scores, so on a validation set with enough
    ham to measure ``training.max_validation_fpr`` the candidate picks its
    own threshold by ``mailray train``'s rule. A smaller set can only say
    "no false positive", and a threshold fitted to that is noise: there
    the candidate keeps its parent's, picked on a larger set. The eval set
    stays untouched for the gate.
    """
    labels = [r.label for r in validation]
    max_fpr = config.training.max_validation_fpr
    if not resolves_fpr(labels, max_fpr):
        return candidate, "parent"
    scores = candidate.predict([r.text for r in validation])
    threshold = pick_threshold(labels, scores, max_fpr=max_fpr)
    set_threshold(folder, threshold)
    log.info(
        "candidate threshold %.4f on %d validation examples (parent %.4f)",
        threshold,
        len(validation),
        candidate.threshold,
    )
    spec = replace(candidate.spec, threshold=threshold)
    return replace(candidate, spec=spec), "validation"


def _now_iso() -> str:
    from datetime import UTC

    return datetime.now(UTC).isoformat(timespec="seconds")
