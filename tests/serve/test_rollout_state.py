"""The rollout state file: atomic, round-trips, idle when absent."""

from __future__ import annotations

from datetime import UTC, datetime

from serve.rollout_state import RolloutState, iso, read_state, write_state
from storage.root import StorageRoot


def test_absent_state_reads_as_idle(tmp_path):
    root = StorageRoot(str(tmp_path))
    assert read_state(root) == RolloutState()


def test_state_round_trips_through_the_file(tmp_path):
    root = StorageRoot(str(tmp_path))
    now = datetime(2026, 12, 3, 20, 0, tzinfo=UTC)
    state = RolloutState().with_changes(
        now,
        phase="canary",
        candidate_version="v2",
        fraction=0.05,
        step_started_at=iso(now),
    )
    write_state(root, state)
    assert read_state(root) == state
    assert not list(tmp_path.rglob("*.tmp"))
