"""The rollout's durable state: ``models/rollout.json`` on the storage root.

The training controller is its only writer; every classifier replica reads
it. One small JSON document says which version is stable, which candidate
(if any) is canaried and at what fraction, and when the current step
began. It is replaced whole with an atomic write, so a crash at any point
leaves either the old state or the new one, never a mix, and the serving
model stays whatever the last complete state says.

``phase`` is ``idle`` (stable only), ``training`` (a run in progress; a
controller that finds this at start-up abandons the run) or ``canary``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from storage.files import write_atomic
from storage.root import StorageRoot

ROLLOUT_FILE = "models/rollout.json"

Phase = Literal["idle", "training", "canary"]


@dataclass(frozen=True, slots=True)
class RolloutState:
    """Which versions the classifier serves, and where the loop stands."""

    phase: Phase = "idle"
    candidate_version: str | None = None
    step: int = 0
    fraction: float = 0.0
    """Share of messages whose counted verdict is the candidate's."""
    step_started_at: str | None = None
    """ISO time the current canary step began (UTC)."""
    trained_until: str | None = None
    """Feedback recorded up to this ISO time has been used by a run."""
    last_trained_at: str | None = None
    updated_at: str | None = None

    def __post_init__(self) -> None:
        if self.phase not in ("idle", "training", "canary"):
            raise ValueError(f"phase must be idle, training or canary: {self.phase!r}")
        if not 0.0 <= self.fraction <= 1.0:
            raise ValueError(f"fraction must be within [0, 1]: {self.fraction!r}")
        if self.phase == "canary" and not self.candidate_version:
            raise ValueError("a canary needs a candidate_version")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RolloutState:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def with_changes(self, now: datetime, **changes: Any) -> RolloutState:
        return replace(self, updated_at=iso(now), **changes)

    @property
    def canary_active(self) -> bool:
        return self.phase == "canary" and self.candidate_version is not None


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def parse_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def read_state(root: StorageRoot) -> RolloutState:
    """The current state; a root that never rolled anything out is idle."""
    path = root.path(ROLLOUT_FILE)
    try:
        with root.fs.open(path, "rb") as handle:
            return RolloutState.from_json(json.load(handle))
    except FileNotFoundError:
        return RolloutState()


def write_state(root: StorageRoot, state: RolloutState) -> None:
    """Replace the state whole (atomic on local roots and on S3)."""
    payload = json.dumps(state.to_json(), indent=2, sort_keys=True) + "\n"
    write_atomic(root, root.path(ROLLOUT_FILE), payload.encode())
