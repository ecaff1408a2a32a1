"""A user whose ham looks unlike the corpus: moving it out of Junk teaches
the model, and their false-positive rate on their other ham drops."""

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
from tests.learning.mail import campaign, club_offers
from training.controller import LearningLoop

pytestmark = [pytest.mark.slow, pytest.mark.ray]

USER_THRESHOLD = 0.5
"""The user's own ``spam_threshold``: what sends their mail to Junk."""


def _fpr(replica: ReplicaModels, raws: list[bytes]) -> float:
    scores = replica.pair.stable.predict([message_text(r) for r in raws])
    return sum(s >= USER_THRESHOLD for s in scores) / len(scores)


def test_ham_moved_out_of_junk_lowers_the_users_false_positive_rate(
    ray_local, tmp_path
):
    config = learning_config(tmp_path / "store", canary_steps=[0.5, 1.0])
    root = StorageRoot.from_config(config.storage)
    snapshot_tiny_corpus(root)
    replica = ReplicaModels(config, watch=False)
    other_ham = club_offers(30, seed=77)
    before = _fpr(replica, other_ham)
    assert before >= 0.3, "the user's club mail must often land in Junk"

    # Club mail found in Junk is moved back; a little spam is moved in.
    offers = club_offers(24, seed=5)
    scores = replica.pair.stable.predict([message_text(r) for r in offers])
    in_junk = [raw for raw, s in zip(offers, scores, strict=True) if s >= 0.5]
    ham_ids = store_messages(root, "DH", in_junk)
    spam_ids = store_messages(root, "DS", campaign(4, seed=6))
    give_feedback(root, {q: "ham" for q in ham_ids} | {q: "spam" for q in spam_ids})

    loop = LearningLoop(config)
    assert loop.tick().startswith("canary")
    for step in range(2):
        replica.apply(loop.state())
        raws = club_offers(4, seed=200 + step)
        ids = store_messages(root, f"DC{step}", raws)
        replica.score([message_text(r) for r in raws], ids)
        replica.shadows.flush()
        give_feedback(root, {q: "ham" for q in ids})
        assert loop.tick().startswith(("advance", "promote"))

    replica.apply(loop.state())
    after = _fpr(replica, other_ham)
    assert after <= before / 2, (before, after)
    replica.close()
