"""The gate: a candidate earns traffic only if it is not worse than stable.

Both models score the fixed evaluation set (the test split of the last
corpus given to ``mailray train``) and the recent feedback the candidate
did not train on, each at its own operating threshold, and the held-out
feedback also by log loss, which needs no threshold: a candidate pushed
the wrong way (flipped labels) shows there even while its labels at a
high threshold have not changed yet. :func:`decide`
compares the figures against configured tolerances; it is pure and
table-tested. Without a fixed set the gate relies on held-out feedback
alone and then requires a minimum of it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from training.metrics import confusion


@dataclass(frozen=True, slots=True)
class GatePolicy:
    max_fpr_increase: float = 0.01
    max_recall_drop: float = 0.02
    max_feedback_accuracy_drop: float = 0.0
    max_feedback_log_loss_increase: float = 0.05
    min_feedback: int = 10
    """Held-out feedback needed when there is no fixed evaluation set."""


@dataclass(frozen=True, slots=True)
class SetScore:
    """One model on one labelled set, at its operating threshold."""

    n: int
    fpr: float
    recall: float
    accuracy: float
    log_loss: float = 0.0
    """Mean cross-entropy of the scores against the labels (nats)."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class GateDecision:
    passed: bool
    reason: str


def log_loss(labels: Sequence[int], scores: Sequence[float]) -> float:
    """Mean cross-entropy, scores clipped away from 0 and 1."""
    if not labels:
        return 0.0
    total = 0.0
    for label, score in zip(labels, scores, strict=True):
        p = min(max(score, _EPS), 1 - _EPS)
        total -= math.log(p if label == 1 else 1 - p)
    return total / len(labels)


_EPS = 1e-6


def set_score(labels: Sequence[int], scores: Sequence[float], threshold: float):
    c = confusion(labels, scores, threshold)
    n = len(labels)
    return SetScore(
        n=n,
        fpr=c.fpr,
        recall=c.recall,
        accuracy=(c.tp + c.tn) / n if n else 0.0,
        log_loss=log_loss(labels, scores),
    )


def decide(
    policy: GatePolicy,
    stable_eval: SetScore | None,
    candidate_eval: SetScore | None,
    stable_feedback: SetScore | None,
    candidate_feedback: SetScore | None,
) -> GateDecision:
    """Pass or reject a candidate from its figures next to stable's."""
    has_eval = bool(stable_eval and candidate_eval and candidate_eval.n)
    feedback_n = candidate_feedback.n if candidate_feedback else 0
    if not has_eval and feedback_n < policy.min_feedback:
        return GateDecision(
            False,
            f"no fixed evaluation set and only {feedback_n} of "
            f"{policy.min_feedback} held-out feedback labels",
        )

    if has_eval:
        assert stable_eval is not None and candidate_eval is not None
        fpr_up = candidate_eval.fpr - stable_eval.fpr
        if fpr_up > policy.max_fpr_increase + 1e-12:
            return GateDecision(
                False,
                f"eval FPR {candidate_eval.fpr:.4f} vs stable {stable_eval.fpr:.4f} "
                f"(tolerance +{policy.max_fpr_increase:.4f})",
            )
        recall_down = stable_eval.recall - candidate_eval.recall
        if recall_down > policy.max_recall_drop + 1e-12:
            return GateDecision(
                False,
                f"eval recall {candidate_eval.recall:.4f} vs stable "
                f"{stable_eval.recall:.4f} (tolerance -{policy.max_recall_drop:.4f})",
            )

    if feedback_n and stable_feedback is not None and candidate_feedback is not None:
        drop = stable_feedback.accuracy - candidate_feedback.accuracy
        if drop > policy.max_feedback_accuracy_drop + 1e-12:
            return GateDecision(
                False,
                f"held-out feedback accuracy {candidate_feedback.accuracy:.3f} vs "
                f"stable {stable_feedback.accuracy:.3f} on {feedback_n} labels",
            )
        worse = candidate_feedback.log_loss - stable_feedback.log_loss
        if worse > policy.max_feedback_log_loss_increase + 1e-12:
            return GateDecision(
                False,
                f"held-out feedback log loss {candidate_feedback.log_loss:.3f} vs "
                f"stable {stable_feedback.log_loss:.3f} on {feedback_n} labels "
                f"(tolerance +{policy.max_feedback_log_loss_increase:.3f})",
            )

    parts = []
    if has_eval:
        assert candidate_eval is not None
        parts.append(
            f"eval fpr {candidate_eval.fpr:.4f} recall {candidate_eval.recall:.4f}"
        )
    if feedback_n:
        assert candidate_feedback is not None
        parts.append(
            f"held-out feedback accuracy {candidate_feedback.accuracy:.3f} "
            f"on {feedback_n}"
        )
    return GateDecision(True, "; ".join(parts))
