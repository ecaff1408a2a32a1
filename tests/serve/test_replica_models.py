"""A replica's models follow the rollout state: canary, promote, roll back."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime

import pytest

from cluster.config import load_config
from serve.replica_models import ReplicaModels
from serve.rollout_state import RolloutState, iso
from storage.registry import BUNDLED_DIR, ModelRegistry, bundled_versions

NOW = datetime(2026, 12, 3, 20, 0, tzinfo=UTC)
TEXTS = ["Subject: lunch\nFrom: a at b.example\n\nnoon?"] * 4
KEYS = ["QA0001", "QA0002", "QA0003", None]


def publish_strict(registry: ModelRegistry, tmp_path) -> str:
    """The bootstrap network with threshold 0: calls everything spam."""
    folder = tmp_path / "strict"
    shutil.copytree(BUNDLED_DIR / bundled_versions()[-1], folder)
    spec = json.loads((folder / "model.json").read_text())
    spec["threshold"] = 0.0
    (folder / "model.json").write_text(json.dumps(spec))
    return registry.publish(folder, metrics={}, lineage={}, version="v-strict")


@pytest.fixture
def replica(tmp_path):
    config = load_config(
        storage={"root": str(tmp_path / "store")},
        classifier={"dtype": "fp32"},
        learning={"shadow_flush_interval_s": 60},
    )
    models = ReplicaModels(config, watch=False)
    yield models
    models.close()


def test_replica_follows_canary_promotion_and_rollback(replica, tmp_path):
    bootstrap = bundled_versions()[-1]
    strict = publish_strict(replica.registry, tmp_path)
    assert replica.pair.versions == (bootstrap, None, 0.0)

    canary = RolloutState(
        phase="canary",
        candidate_version=strict,
        fraction=1.0,
        step_started_at=iso(NOW),
    )
    assert replica.apply(canary)
    verdicts = replica.score(TEXTS, KEYS)
    assert {v.model_version for v in verdicts} == {strict}
    assert not replica.apply(canary)  # nothing to do the second time

    # Rolled back: stable only, the candidate unloaded.
    assert replica.apply_user_config(RolloutState().to_json())
    assert replica.pair.versions == (bootstrap, None, 0.0)

    # Promoted: serving.json names the candidate, the state is idle again.
    replica.apply(canary)
    replica.registry.set_serving(strict)
    replica.apply(RolloutState())
    assert replica.pair.versions == (strict, None, 0.0)
    assert replica.pair.stable.threshold == 0.0


def test_shadow_verdicts_are_kept_for_keyed_messages_only(replica, tmp_path):
    from storage.sql import connect

    strict = publish_strict(replica.registry, tmp_path)
    replica.apply(
        RolloutState(
            phase="canary",
            candidate_version=strict,
            fraction=0.5,
            step_started_at=iso(NOW),
        )
    )
    replica.score(TEXTS, KEYS)
    replica.shadows.flush()
    rows = (
        connect(replica.root)
        .sql("SELECT queue_id FROM shadow_verdicts ORDER BY queue_id")
        .fetchall()
    )
    assert [r[0] for r in rows] == ["QA0001", "QA0002", "QA0003"]


def test_a_candidate_that_cannot_load_leaves_stable_serving(replica):
    replica.root.fs.makedirs(replica.root.path("models", "v-broken"), exist_ok=True)
    replica.root.fs.pipe_file(
        replica.root.path("models", "v-broken", "model.json"), b"{"
    )
    changed = replica.apply(
        RolloutState(
            phase="canary",
            candidate_version="v-broken",
            fraction=0.5,
            step_started_at=iso(NOW),
        )
    )
    assert not changed
    assert replica.pair.candidate is None
    verdicts = replica.score(TEXTS, KEYS)
    assert {v.model_version for v in verdicts} == {bundled_versions()[-1]}
