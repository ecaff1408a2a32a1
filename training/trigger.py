"""When to fine-tune: a pure decision over the feedback seen so far.

The training controller gathers feedback labels and asks :func:`decide`
whether a new candidate is worth training. Nothing here reads a clock or
a table; the caller passes both in, so the policy is tested with tables.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class FeedbackLabel:
    """One user's label for one message."""

    user: str
    queue_id: str
    label: str
    """``"spam"`` or ``"ham"``."""
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class TriggerPolicy:
    """Thresholds for starting a fine-tuning run."""

    min_new_labels: int = 20
    """Train once this many new (deduplicated) labels have arrived."""
    min_per_class: int = 2
    """Both classes must be present, with at least this many each."""
    max_class_ratio: float = 20.0
    """Majority over minority; a more lopsided batch waits for balance."""
    schedule: timedelta | None = None
    """Also train on this period when any balanced labels are waiting."""
    min_interval: timedelta = timedelta(minutes=1)
    """Never start two runs closer together than this."""


@dataclass(frozen=True, slots=True)
class TriggerDecision:
    train: bool
    reason: str


def latest_labels(events: Iterable[FeedbackLabel]) -> list[FeedbackLabel]:
    """One label per (user, message): the latest wins when they disagree."""
    latest: dict[tuple[str, str], FeedbackLabel] = {}
    for event in events:
        key = (event.user, event.queue_id)
        kept = latest.get(key)
        if kept is None or event.recorded_at >= kept.recorded_at:
            latest[key] = event
    return sorted(latest.values(), key=lambda e: e.recorded_at)


def decide(
    policy: TriggerPolicy,
    new_labels: Iterable[FeedbackLabel],
    last_trained_at: datetime | None,
    now: datetime,
) -> TriggerDecision:
    """Whether to train now on ``new_labels`` (labels since the last run)."""
    labels = latest_labels(new_labels)
    spam = sum(1 for e in labels if e.label == "spam")
    ham = len(labels) - spam

    if not labels:
        return TriggerDecision(False, "no new labels")
    if last_trained_at is not None and now - last_trained_at < policy.min_interval:
        return TriggerDecision(False, "last run too recent")
    if min(spam, ham) < policy.min_per_class:
        return TriggerDecision(
            False, f"need {policy.min_per_class} of each class (spam={spam}, ham={ham})"
        )
    if max(spam, ham) / min(spam, ham) > policy.max_class_ratio:
        return TriggerDecision(
            False, f"classes too unbalanced (spam={spam}, ham={ham})"
        )

    if len(labels) >= policy.min_new_labels:
        return TriggerDecision(True, f"{len(labels)} new labels")
    due = policy.schedule is not None and (
        last_trained_at is None or now - last_trained_at >= policy.schedule
    )
    if due:
        return TriggerDecision(True, f"schedule due with {len(labels)} new labels")
    return TriggerDecision(
        False, f"{len(labels)} of {policy.min_new_labels} labels needed"
    )
