"""The ingest actor on Ray: spool, batched hand-off, 451 when the queue is full."""

from __future__ import annotations

import smtplib
import uuid

import pytest

from cluster.config import load_config
from ingest import queues
from ingest.actor import IngestActor
from ingest.spool import Spool

pytestmark = [pytest.mark.ray, pytest.mark.slow]

MESSAGE = b"Subject: hi\r\n\r\nhello\r\n"


def _send(port: int) -> tuple[int, str]:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo("t")
        client.mail("a@example.org")
        client.rcpt("test@example.com")
        code, text = client.data(MESSAGE)
        return code, text.decode()


def _send_expect(port: int) -> tuple[int, str]:
    try:
        return _send(port)
    except smtplib.SMTPDataError as exc:
        return exc.smtp_code, exc.smtp_error.decode()


@pytest.fixture
def actor_setup(ray_local, tmp_path):
    ray = ray_local
    config = load_config(
        smtp={"port": 0, "spool_dir": str(tmp_path / "spool")},
        pipeline={"queue_max_items": 2},
    )
    queue = queues.make_queue(f"test-{uuid.uuid4().hex[:8]}", max_items=2)
    actor = ray.remote(IngestActor).options(num_cpus=0.1).remote(config, queue)
    _, port = ray.get(actor.start.remote())
    yield ray, config, queue, actor, port
    ray.get(actor.stop.remote())
    ray.kill(actor)
    ray.kill(queue.actor)


def test_full_queue_answers_451_and_keeps_nothing(actor_setup):
    _ray, config, queue, _actor, port = actor_setup
    replies = [_send_expect(port) for _ in range(3)]

    assert [code for code, _ in replies] == [250, 250, 451]
    assert replies[2][1].startswith("4.3.2")
    spooled = list(Spool(config.smtp.spool_dir).pending())
    assert len(spooled) == 2
    queued = queue.get_nowait_batch(2)
    assert {m.queue_id for m in queued} == set(spooled)
    assert all(m.raw.endswith(MESSAGE) for m in queued)


def test_spooled_messages_are_enqueued_again_on_recovery(actor_setup):
    ray, _config, queue, actor, port = actor_setup
    _send_expect(port)
    [first] = queue.get_nowait_batch(1)  # a stage took it, then "crashed"

    assert ray.get(actor.recover.remote()) == 1
    [again] = queue.get_nowait_batch(1)
    assert again == first


def test_store_down_answers_451(actor_setup):
    ray, _config, _queue, actor, port = actor_setup
    ray.get(actor.set_store_ok.remote(False))
    code, text = _send_expect(port)
    assert code == 451 and text.startswith("4.3.0")
