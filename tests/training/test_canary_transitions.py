"""Canary state transitions, as a table, and the policies built from config."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cluster.config import load_config
from serve.rollout import Action, Decision
from serve.rollout_state import RolloutState, iso
from training.controller import canary_policy, canary_transition, trigger_policy

NOW = datetime(2026, 12, 3, 20, 0, tzinfo=UTC)
STEPS = (0.05, 0.25, 0.5, 1.0)
CANARY = RolloutState(
    phase="canary",
    candidate_version="v2",
    step=1,
    fraction=0.25,
    step_started_at=iso(NOW - timedelta(minutes=5)),
)


@pytest.mark.parametrize(
    ("action", "phase", "candidate", "step", "fraction", "restarted"),
    [
        (Action.HOLD, "canary", "v2", 1, 0.25, False),
        (Action.ADVANCE, "canary", "v2", 2, 0.5, True),
        (Action.PROMOTE, "idle", None, 0, 0.0, False),
        (Action.ROLLBACK, "idle", None, 0, 0.0, False),
        (Action.ABANDON, "idle", None, 0, 0.0, False),
    ],
)
def test_canary_transition_table(action, phase, candidate, step, fraction, restarted):
    after = canary_transition(CANARY, Decision(action, "why"), STEPS, NOW)
    assert (after.phase, after.candidate_version, after.step, after.fraction) == (
        phase,
        candidate,
        step,
        fraction,
    )
    assert (after.step_started_at == iso(NOW)) is restarted


def test_rollout_state_refuses_a_canary_without_candidate():
    with pytest.raises(ValueError, match="candidate_version"):
        RolloutState(phase="canary", fraction=0.5)


def test_rollout_state_refuses_fraction_outside_unit_interval():
    with pytest.raises(ValueError, match="fraction"):
        RolloutState(fraction=1.5)


def test_policies_follow_the_learning_section():
    config = load_config(
        learning={
            "min_new_labels": 7,
            "min_interval_s": 3,
            "canary_steps": [0.5, 1.0],
            "canary_min_feedback": 4,
            "canary_max_step_s": 60,
        }
    )
    trigger = trigger_policy(config)
    assert trigger.min_new_labels == 7
    assert trigger.min_interval == timedelta(seconds=3)
    canary = canary_policy(config)
    assert canary.steps == (0.5, 1.0)
    assert canary.min_feedback == 4
    assert canary.max_step_duration == timedelta(seconds=60)


def test_canary_steps_that_do_not_reach_one_are_refused():
    from cluster.config import ConfigError

    with pytest.raises(ConfigError, match=r"rise to 1\.0"):
        load_config(learning={"canary_steps": [0.1, 0.5]})
