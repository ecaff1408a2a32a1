"""Feedback and datasets read back from the storage root; canary evidence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from imap.feedback import FeedbackEvent
from imap.feedback_table import FeedbackTable
from serve.shadow import ShadowLog, ShadowVerdict
from storage.objects import RawStore
from storage.root import StorageRoot
from training.canary_evidence import canary_evidence
from training.events import ModelEvent, history, record, version_status
from training.labelled import (
    EVAL_SET,
    LabelledText,
    data_hash,
    feedback_texts,
    held_out,
    read_dataset,
    read_feedback,
    since,
    write_dataset,
)

T0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
RAW = b"From: a@b.example\r\nSubject: parcel fee\r\n\r\nPay the fee now.\r\n"


def event(queue_id: str, label: str, minutes: int, user: str = "u@example.com"):
    return FeedbackEvent(
        user=user,
        queue_id=queue_id,
        message_id=f"<{queue_id}@x>",
        label=label,
        source="imap-move",
        mailbox="Junk",
        created_at=T0 + timedelta(minutes=minutes),
        model_score=0.1,
        model_label="ham",
        model_version="v1",
    )


@pytest.fixture
def root(tmp_path) -> StorageRoot:
    return StorageRoot(str(tmp_path))


def test_no_feedback_table_means_no_labels(root):
    assert read_feedback(root) == []


def test_feedback_is_read_in_time_order_and_filtered_by_window(root):
    FeedbackTable(root).write([event("QB0001", "ham", 5), event("QA0001", "spam", 1)])
    labels = read_feedback(root)
    assert [(e.queue_id, e.label) for e in labels] == [
        ("QA0001", "spam"),
        ("QB0001", "ham"),
    ]
    assert [e.queue_id for e in since(labels, T0 + timedelta(minutes=2))] == ["QB0001"]


def test_feedback_texts_come_from_the_store_and_the_latest_label_wins(root):
    RawStore(root).put("QA0001", RAW)
    FeedbackTable(root).write(
        [
            event("QA0001", "ham", 1),
            event("QA0001", "spam", 2, user="other@example.com"),
            event("QZ0404", "spam", 3),
        ]
    )
    rows = feedback_texts(root, read_feedback(root))
    assert [(r.key, r.label) for r in rows] == [("QA0001", 1)]
    assert "Subject: parcel fee" in rows[0].text


def test_dataset_round_trips_and_absent_dataset_is_empty(root):
    assert read_dataset(root, EVAL_SET) == []
    rows = [LabelledText("ham/1", "hello", 0), LabelledText("spam/1", "buy", 1)]
    write_dataset(root, EVAL_SET, rows)
    assert read_dataset(root, EVAL_SET) == rows


def test_data_hash_changes_with_any_label_or_text():
    rows = [LabelledText("a", "x", 0), LabelledText("b", "y", 1)]
    assert data_hash(rows) == data_hash(list(reversed(rows)))
    assert data_hash(rows) != data_hash([LabelledText("a", "x", 1), rows[1]])
    assert data_hash(rows) != data_hash([LabelledText("a", "z", 0), rows[1]])


def test_holdout_is_stable_and_near_its_fraction():
    keys = [f"Q{i:05d}" for i in range(2000)]
    share = sum(held_out(k, 0.25) for k in keys) / len(keys)
    assert 0.2 < share < 0.3
    assert [held_out(k, 0.25) for k in keys] == [held_out(k, 0.25) for k in keys]
    assert not any(held_out(k, 0.0) for k in keys)


def _shadow(queue_id: str, stable: str, candidate: str) -> ShadowVerdict:
    return ShadowVerdict(
        queue_id=queue_id,
        scored_at=T0,
        stable_version="v1",
        stable_score=0.1,
        stable_label=stable,
        candidate_version="v2",
        candidate_score=0.9,
        candidate_label=candidate,
        fraction=0.05,
        routed_to="stable",
    )


def test_canary_evidence_counts_labels_since_the_step_on_shadowed_mail(root):
    assert canary_evidence(root, "v2", T0).n == 0
    log = ShadowLog(root, flush_interval_s=60)
    log.add(
        [
            _shadow("QA0001", "ham", "spam"),
            _shadow("QA0002", "ham", "spam"),
            _shadow("QA0003", "ham", "ham"),
        ]
    )
    log.close()
    FeedbackTable(root).write(
        [
            event("QA0001", "spam", -5),  # before the step: not counted
            event("QA0002", "spam", 1),
            event("QA0003", "ham", 2),
            event("QA0009", "spam", 3),  # never shadow-scored: not counted
        ]
    )
    evidence = canary_evidence(root, "v2", T0)
    assert (evidence.n, evidence.candidate_agree, evidence.stable_agree) == (2, 2, 1)
    assert canary_evidence(root, "v3", T0).n == 0


def test_events_are_recorded_in_the_table_and_the_version_status(root):
    assert history(root) == []
    for minutes, name in ((0, "canary"), (5, "promoted")):
        record(
            root,
            ModelEvent(
                at=T0 + timedelta(minutes=minutes),
                event=name,
                version="v2",
                parent_version="v1",
                fraction=1.0,
                reason=f"{name} for a test",
                metrics={"n": minutes},
            ),
        )
    events = history(root)
    assert [e["event"] for e in events] == ["promoted", "canary"]
    assert events[0]["metrics"] == {"n": 5}
    assert version_status(root, "v2")["status"] == "promoted"
    assert version_status(root, "v9") is None


def test_corpus_snapshot_keeps_each_split_apart(root, fixtures):
    from training.corpus import walk_corpus
    from training.dataset import texts_of
    from training.labelled import REPLAY_SET, VALIDATION_SET, snapshot_corpus

    examples = walk_corpus(fixtures / "tiny-corpus")
    texts = dict(zip((e.path for e in examples), texts_of(examples), strict=True))
    counts = snapshot_corpus(root, examples, texts)

    evaluation = read_dataset(root, EVAL_SET)
    replay = read_dataset(root, REPLAY_SET)
    validation = read_dataset(root, VALIDATION_SET)
    assert counts == {
        "eval": len(evaluation),
        "replay": len(replay),
        "validation": len(validation),
    }
    assert len(evaluation) == sum(e.split == "test" for e in examples)
    assert len(replay) == sum(e.split == "train" for e in examples)
    assert len(validation) == sum(e.split == "validation" for e in examples)
    assert validation
    assert {r.label for r in replay} == {0, 1}
    keys = [{r.key for r in rows} for rows in (evaluation, replay, validation)]
    assert sum(map(len, keys)) == len(set().union(*keys))
