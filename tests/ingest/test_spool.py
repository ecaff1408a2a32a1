import os
import pickle
from datetime import UTC, datetime

import pytest

from ingest.errors import QueueFull, SpoolError, StageFailure
from ingest.spool import Spool, new_queue_id
from ingest.types import ReceivedMessage


def _message(raw: bytes = b"Subject: hi\r\n\r\nbody\r\n") -> ReceivedMessage:
    return ReceivedMessage(
        queue_id=new_queue_id(),
        mail_from="a@example.org",
        rcpt_tos=("test@example.com",),
        received_at=datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC),
        peer="127.0.0.1",
        raw=raw,
    )


def test_spooled_message_reads_back_identically(tmp_path):
    spool = Spool(tmp_path)
    message = _message(b"\x00\xff binary\r\n.\r\n and \n newlines")
    spool.write(message)
    assert spool.read(message.queue_id) == message
    assert list(spool.pending()) == [message.queue_id]


def test_completed_messages_are_no_longer_pending(tmp_path):
    spool = Spool(tmp_path)
    first, second = _message(), _message()
    spool.write(first)
    spool.write(second)
    assert spool.complete([first.queue_id, "missing"]) == 1
    assert list(spool.pending()) == [second.queue_id]


def test_pending_skips_recent_messages_when_asked(tmp_path):
    spool = Spool(tmp_path)
    message = _message()
    spool.write(message)
    assert list(spool.pending(older_than_s=60)) == []
    old = os.path.getmtime(spool.path_of(message.queue_id)) - 120
    os.utime(spool.path_of(message.queue_id), (old, old))
    assert list(spool.pending(older_than_s=60)) == [message.queue_id]
    spool.touch([message.queue_id])
    assert list(spool.pending(older_than_s=60)) == []


def test_partial_writes_are_removed_and_never_pending(tmp_path):
    spool = Spool(tmp_path)
    (tmp_path / "deadbeef.tmp").write_bytes(b"half")
    assert list(spool.pending()) == []
    assert spool.remove_partial() == 1


def test_reading_a_missing_message_raises_spool_error(tmp_path):
    with pytest.raises(SpoolError, match="cannot read"):
        Spool(tmp_path).read("nope")


def test_queue_ids_are_unique_hex():
    ids = {new_queue_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


@pytest.mark.parametrize(
    "error",
    [SpoolError("q1", "disk full"), QueueFull("parse", 7), StageFailure("q", "s", "r")],
)
def test_ingest_errors_survive_pickling(error):
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is type(error)
    assert str(clone) == str(error)
    assert clone.__dict__ == error.__dict__
