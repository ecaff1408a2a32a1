"""The learning loop on a store: trigger, fine-tune, gate, canary, promote.

Replicas are :class:`serve.replica_models.ReplicaModels`, the component
inside every classifier replica, so the canary's shadow verdicts and the
promotion are the real ones; Serve itself is exercised elsewhere.
"""

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
from training.events import history

pytestmark = [pytest.mark.slow, pytest.mark.ray]


def test_campaign_feedback_trains_a_candidate_that_canaries_and_is_promoted(
    ray_local, tmp_path
):
    config = learning_config(tmp_path / "store")
    root = StorageRoot.from_config(config.storage)
    snapshot_tiny_corpus(root)
    replica = ReplicaModels(config, watch=False)
    bootstrap = replica.pair.stable.version

    # A campaign the bootstrap model lets through.
    labelled = campaign(14, seed=1)
    unseen = campaign(20, seed=99)
    misses = [
        v.label
        for v in replica.score([message_text(r) for r in unseen], [None] * len(unseen))
    ]
    assert misses.count("ham") >= 18, misses

    spam_ids = store_messages(root, "CA", labelled)
    ham_ids = store_messages(root, "HA", shifted_ham(4, seed=2))
    give_feedback(root, {q: "spam" for q in spam_ids} | {q: "ham" for q in ham_ids})

    loop = LearningLoop(config)
    outcome = loop.tick()
    assert outcome.startswith("canary"), outcome
    candidate = loop.state().candidate_version

    # Each step: new campaign mail is shadow-scored, the user labels it.
    for step in range(len(config.learning.canary_steps)):
        replica.apply(loop.state())
        assert replica.pair.candidate is not None
        raws = campaign(4, seed=1000 + step)
        ids = store_messages(root, f"S{step}", raws)
        replica.score([message_text(r) for r in raws], ids)
        replica.shadows.flush()
        give_feedback(root, {q: "spam" for q in ids})
        outcome = loop.tick()
        assert outcome.startswith(("advance", "promote")), outcome

    assert loop.registry.serving_version() == candidate
    assert loop.state().phase == "idle"
    events = [e["event"] for e in history(root)]
    assert events[-1] == "canary" and events[0] == "promoted"
    assert events.count("advanced") == len(config.learning.canary_steps) - 1

    replica.apply(loop.state())
    assert replica.pair.versions == (candidate, None, 0.0)
    verdicts = replica.score([message_text(r) for r in unseen], [None] * len(unseen))
    assert [v.label for v in verdicts].count("spam") >= 18
    lineage = loop.registry.read_json(candidate, "lineage.json")
    assert lineage["parent_version"] == bootstrap
    assert lineage["counts"]["replay_source"] == "corpus"
    replica.close()
