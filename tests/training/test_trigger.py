from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from training.trigger import FeedbackLabel, TriggerPolicy, decide, latest_labels

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def labels(spam: int, ham: int, start: int = 0) -> list[FeedbackLabel]:
    out = []
    for i in range(spam + ham):
        label = "spam" if i < spam else "ham"
        out.append(
            FeedbackLabel("u", f"q{start + i}", label, T0 + timedelta(seconds=i))
        )
    return out


POLICY = TriggerPolicy(min_new_labels=10, min_per_class=2, max_class_ratio=4)


@pytest.mark.parametrize(
    ("spam", "ham", "last", "train", "why"),
    [
        (0, 0, None, False, "no new labels"),
        (10, 0, None, False, "need 2 of each class"),
        (9, 1, None, False, "need 2 of each class"),
        (9, 2, None, False, "too unbalanced"),
        (8, 2, None, True, "10 new labels"),
        (5, 4, None, False, "9 of 10"),
        (6, 6, T0 - timedelta(seconds=1), False, "too recent"),
        (6, 6, T0 - timedelta(hours=1), True, "12 new labels"),
    ],
)
def test_decide_table(spam, ham, last, train, why):
    now = T0 + timedelta(seconds=30)
    decision = decide(POLICY, labels(spam, ham), last, now)
    assert decision.train is train
    assert why in decision.reason


def test_schedule_trains_on_fewer_labels_when_due():
    policy = TriggerPolicy(min_new_labels=100, schedule=timedelta(hours=1))
    now = T0 + timedelta(hours=2)
    assert decide(policy, labels(2, 2), T0, now).train
    assert not decide(policy, labels(2, 2), now - timedelta(minutes=5), now).train


def test_contradicting_labels_keep_the_latest():
    first = FeedbackLabel("u", "q1", "spam", T0)
    second = FeedbackLabel("u", "q1", "ham", T0 + timedelta(minutes=1))
    other_user = FeedbackLabel("v", "q1", "spam", T0)
    kept = latest_labels([second, first, other_user])
    assert {(e.user, e.label) for e in kept} == {("u", "ham"), ("v", "spam")}
