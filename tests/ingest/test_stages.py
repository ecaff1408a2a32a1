"""Pipeline stages as Ray actors on real bounded queues."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cluster.config import PipelineConfig
from ingest import queues
from ingest.classify_stage import ClassifyStage
from ingest.parse_stage import ParseStage, parse_one
from ingest.records import DeadLetter, ParsedWork
from ingest.spool import new_queue_id
from ingest.types import ReceivedMessage

pytestmark = [pytest.mark.ray, pytest.mark.slow]

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ingest"
FAST = PipelineConfig(batch_wait_s=0.05, max_attempts=3, retry_base_s=0.05)


def _received(name: str) -> ReceivedMessage:
    return ReceivedMessage(
        queue_id=new_queue_id(),
        mail_from="a@example.org",
        rcpt_tos=("test@example.com",),
        received_at=datetime.now(UTC),
        peer="127.0.0.1",
        raw=(FIXTURES / name).read_bytes(),
    )


def _queues(n: int) -> list:
    return [queues.make_queue(f"t-{uuid.uuid4().hex[:8]}", 100) for _ in range(n)]


def _wait_size(queue, size: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while queue.size() < size and time.monotonic() < deadline:
        time.sleep(0.1)


def test_parse_stage_passes_parsed_messages_downstream(ray_local):
    inbox, outbox, store = _queues(3)
    stage = (
        ray_local.remote(ParseStage)
        .options(num_cpus=0.1)
        .remote(FAST, inbox, outbox, store)
    )
    stage.run.remote()
    messages = [_received("plain.eml"), _received("with-attachment.eml")]
    inbox.put_nowait_batch(messages)

    _wait_size(outbox, 2)
    parsed = outbox.get_nowait_batch(2)
    assert all(isinstance(p, ParsedWork) for p in parsed)
    assert {p.parsed.subject for p in parsed} == {"Lunch on Friday?", "The report"}
    assert all(p.text for p in parsed)
    ray_local.get(stage.stop.remote())


def test_message_that_keeps_failing_is_dead_lettered_with_its_error(ray_local):
    inbox, outbox, store = _queues(3)
    # No Serve application of this name exists: every call fails.
    stage = (
        ray_local.remote(ClassifyStage)
        .options(num_cpus=0.1)
        .remote(FAST, inbox, outbox, store, app_name=f"missing-{uuid.uuid4().hex[:6]}")
    )
    stage.run.remote()
    work = parse_one(_received("plain.eml"))
    inbox.put(work)

    _wait_size(store, 1)
    [letter] = store.get_nowait_batch(1)
    assert isinstance(letter, DeadLetter)
    assert letter.queue_id == work.queue_id
    assert letter.stage == "classify" and letter.attempts == FAST.max_attempts
    assert letter.error
    assert outbox.size() == 0
    stats = ray_local.get(stage.stats.remote())
    assert stats["dead_lettered"] == 1 and stats["failed"] == FAST.max_attempts
    ray_local.get(stage.stop.remote())
