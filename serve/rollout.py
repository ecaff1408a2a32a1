"""Canary rollout: which model scores a message, and when to move on.

Ray Serve has no traffic splitting of its own, so mailray routes inside the
classifier: a stable hash of the message's queue id puts it in one of
10,000 buckets, and buckets below the canary fraction go to the candidate.
The same message always lands on the same side, on every replica.

:func:`decide` is the whole promotion policy, pure and table-tested: it
looks at the feedback gathered during the current step and answers with
one :class:`Action`.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

_BUCKETS = 10_000


def bucket_of(key: str) -> float:
    """A stable position in [0, 1) for a message key."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % _BUCKETS / _BUCKETS


def routed_to_candidate(key: str, fraction: float) -> bool:
    """Whether the candidate's verdict is the one that counts for ``key``."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be within [0, 1], got {fraction!r}")
    return bucket_of(key) < fraction


@dataclass(frozen=True, slots=True)
class CanaryPolicy:
    """How a candidate earns more traffic."""

    steps: tuple[float, ...] = (0.05, 0.25, 0.5, 1.0)
    min_feedback: int = 10
    """Labels on shadow-scored mail needed before a step may advance."""
    tolerance: float = 0.0
    """How much lower the candidate's agreement may be and still advance."""
    max_step_duration: timedelta = timedelta(hours=24)
    """A step that gathers too little evidence by then is abandoned."""

    def __post_init__(self) -> None:
        if not self.steps or any(not 0 < s <= 1 for s in self.steps):
            raise ValueError(f"steps must be fractions in (0, 1]: {self.steps!r}")
        if list(self.steps) != sorted(self.steps) or self.steps[-1] != 1.0:
            raise ValueError(f"steps must rise to 1.0: {self.steps!r}")


@dataclass(frozen=True, slots=True)
class CanaryEvidence:
    """Feedback labels that arrived during a step, scored by both models."""

    n: int
    candidate_agree: int
    """Labels the candidate's verdict matched."""
    stable_agree: int

    @property
    def candidate_rate(self) -> float:
        return self.candidate_agree / self.n if self.n else 0.0

    @property
    def stable_rate(self) -> float:
        return self.stable_agree / self.n if self.n else 0.0


class Action(enum.StrEnum):
    HOLD = "hold"
    ADVANCE = "advance"
    PROMOTE = "promote"
    ROLLBACK = "rollback"
    ABANDON = "abandon"


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    reason: str
    next_fraction: float | None = None


def decide(
    policy: CanaryPolicy,
    step: int,
    evidence: CanaryEvidence,
    step_started_at: datetime,
    now: datetime,
) -> Decision:
    """What to do with a candidate serving ``policy.steps[step]``."""
    if not 0 <= step < len(policy.steps):
        raise ValueError(f"step must index policy.steps, got {step!r}")

    # A regression rolls back at once, whatever the amount of evidence:
    # a candidate already worse than stable on the labels seen is not
    # given more traffic to prove it.
    behind = evidence.stable_agree - evidence.candidate_agree
    if evidence.n and behind > policy.tolerance * evidence.n:
        return Decision(
            Action.ROLLBACK,
            f"candidate agreed with {evidence.candidate_agree}/{evidence.n} "
            f"labels, stable with {evidence.stable_agree}/{evidence.n}",
        )

    if evidence.n < policy.min_feedback:
        if now - step_started_at >= policy.max_step_duration:
            return Decision(
                Action.ABANDON,
                f"only {evidence.n} of {policy.min_feedback} labels after "
                f"{policy.max_step_duration}",
            )
        return Decision(
            Action.HOLD, f"{evidence.n} of {policy.min_feedback} labels so far"
        )

    reason = (
        f"candidate {evidence.candidate_rate:.3f} vs stable "
        f"{evidence.stable_rate:.3f} on {evidence.n} labels"
    )
    if step + 1 == len(policy.steps):
        return Decision(Action.PROMOTE, reason, 1.0)
    return Decision(Action.ADVANCE, reason, policy.steps[step + 1])
