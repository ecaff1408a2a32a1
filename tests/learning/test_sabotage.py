"""A candidate trained on flipped labels: the gate stops it; forced past the
gate, the canary rolls it back before it ever serves all mail."""

from __future__ import annotations

import pytest

from serve.replica_models import ReplicaModels
from serve.text import message_text
from storage.root import StorageRoot
from tests.learning.conftest import (
    give_feedback,
    learning_config,
    snapshot_tiny_corpus,
    store_messages,
)
from tests.learning.mail import campaign, shifted_ham
from training.controller import LearningLoop
from training.events import history, version_status

pytestmark = [pytest.mark.slow, pytest.mark.ray]


def _labelled_batch(root: StorageRoot, prefix: str, seed: int) -> None:
    spam = store_messages(root, f"{prefix}S", campaign(8, seed=seed))
    ham = store_messages(root, f"{prefix}H", shifted_ham(8, seed=seed + 1))
    give_feedback(root, {q: "spam" for q in spam} | {q: "ham" for q in ham})


def test_flipped_labels_are_stopped_by_the_gate_then_rolled_back_in_canary(
    ray_local, tmp_path
):
    config = learning_config(
        tmp_path / "store", min_new_labels=12, holdout_fraction=0.4
    )
    root = StorageRoot.from_config(config.storage)
    snapshot_tiny_corpus(root)
    serving = LearningLoop(config).registry.serving_version()

    # Sabotaged training, honest gate: rejected, kept with its reason.
    _labelled_batch(root, "A", seed=10)
    saboteur = LearningLoop(config, flip_labels=True)
    outcome = saboteur.tick()
    assert outcome.startswith("rejected"), outcome
    rejected = outcome.split()[1].rstrip(":")
    status = version_status(root, rejected)
    assert status["status"] == "rejected" and status["reason"]
    assert rejected in saboteur.registry.list_versions()
    assert saboteur.registry.serving_version() == serving
    assert saboteur.state().phase == "idle"

    # Forced past the gate: it canaries, users' labels disagree with it.
    _labelled_batch(root, "B", seed=20)
    forced = LearningLoop(config, flip_labels=True, skip_gate=True)
    outcome = forced.tick()
    assert outcome.startswith("canary"), outcome
    replica = ReplicaModels(config, watch=False)
    replica.apply(forced.state())
    assert replica.pair.candidate is not None

    raws = shifted_ham(6, seed=30) + campaign(2, seed=31)
    ids = store_messages(root, "C", raws)
    replica.score([message_text(r) for r in raws], ids)
    replica.shadows.flush()
    give_feedback(root, {q: "ham" for q in ids[:6]} | {q: "spam" for q in ids[6:]})
    outcome = forced.tick()
    assert outcome.startswith("rollback"), outcome

    assert forced.registry.serving_version() == serving
    assert forced.state().phase == "idle"
    events = history(root)
    assert events[0]["event"] == "rolled_back"
    assert all(e["fraction"] < 1.0 for e in events if e["event"] != "rolled_back")
    assert not any(e["event"] == "promoted" for e in events)
    replica.apply(forced.state())
    assert replica.pair.versions == (serving, None, 0.0)
    replica.close()
