from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from serve.rollout import (
    Action,
    CanaryEvidence,
    CanaryPolicy,
    bucket_of,
    decide,
    routed_to_candidate,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = CanaryPolicy(
    steps=(0.05, 0.5, 1.0), min_feedback=10, max_step_duration=timedelta(hours=1)
)


@pytest.mark.parametrize(
    ("step", "n", "cand", "stable", "age_min", "action", "fraction"),
    [
        (0, 0, 0, 0, 5, Action.HOLD, None),
        (0, 9, 9, 9, 5, Action.HOLD, None),
        (0, 9, 9, 9, 61, Action.ABANDON, None),
        (0, 10, 10, 10, 5, Action.ADVANCE, 0.5),
        (1, 12, 12, 11, 5, Action.ADVANCE, 1.0),
        (2, 10, 10, 10, 5, Action.PROMOTE, 1.0),
        # A regression rolls back at once, even on little evidence.
        (0, 3, 1, 3, 5, Action.ROLLBACK, None),
        (1, 40, 38, 39, 5, Action.ROLLBACK, None),
    ],
)
def test_decide_table(step, n, cand, stable, age_min, action, fraction):
    evidence = CanaryEvidence(n=n, candidate_agree=cand, stable_agree=stable)
    now = T0 + timedelta(minutes=age_min)
    decision = decide(POLICY, step, evidence, T0, now)
    assert decision.action is action
    assert decision.next_fraction == fraction


def test_tolerance_lets_a_slightly_worse_candidate_advance():
    policy = CanaryPolicy(steps=(0.5, 1.0), min_feedback=10, tolerance=0.1)
    evidence = CanaryEvidence(n=20, candidate_agree=19, stable_agree=20)
    assert decide(policy, 0, evidence, T0, T0).action is Action.ADVANCE


def test_routing_is_deterministic_and_close_to_the_fraction():
    keys = [f"queue-{i}" for i in range(20_000)]
    chosen = [k for k in keys if routed_to_candidate(k, 0.25)]
    assert 0.23 < len(chosen) / len(keys) < 0.27
    assert chosen == [k for k in keys if routed_to_candidate(k, 0.25)]
    # Raising the fraction only adds messages to the candidate's side.
    assert set(chosen) <= {k for k in keys if routed_to_candidate(k, 0.5)}
    assert all(0 <= bucket_of(k) < 1 for k in keys[:100])


@pytest.mark.parametrize("steps", [(), (0.5,), (0.5, 0.25, 1.0), (0.0, 1.0)])
def test_policy_rejects_bad_steps(steps):
    with pytest.raises(ValueError, match="steps"):
        CanaryPolicy(steps=steps)


def test_routing_rejects_fraction_out_of_range():
    with pytest.raises(ValueError, match="fraction"):
        routed_to_candidate("q", 1.5)
