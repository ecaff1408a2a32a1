import json
import os
import pickle
import subprocess
import sys
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


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_pending_skips_recent_messages_when_asked(tmp_path):
    clock = FakeClock()
    spool = Spool(tmp_path, clock=clock)
    message = _message()
    spool.write(message)
    assert list(spool.pending(older_than_s=60)) == []
    clock.now += 120
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


def _segments(directory) -> list:
    return sorted(directory.glob("*.seg"))


def test_a_group_is_appended_to_one_segment_with_one_fdatasync(tmp_path, monkeypatch):
    synced = []
    real = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: synced.append(fd) or real(fd))
    spool = Spool(tmp_path)
    group = [_message(f"n{i}".encode()) for i in range(20)]
    spool.write_many(group)

    assert len(synced) == 1
    assert len(_segments(tmp_path)) == 1
    assert [spool.read(m.queue_id) for m in group] == group


def test_another_spool_on_the_folder_reads_and_completes(tmp_path):
    writer, store = Spool(tmp_path), Spool(tmp_path)
    first, second = _message(b"one"), _message(b"two")
    writer.write_many([first, second])

    assert store.read(second.queue_id) == second
    assert store.complete([first.queue_id, first.queue_id, "missing"]) == 1
    assert list(writer.pending()) == [second.queue_id]
    assert list(Spool(tmp_path).pending()) == [second.queue_id]


def test_segment_is_deleted_once_done_and_its_writer_moved_on(tmp_path):
    spool = Spool(tmp_path, segment_bytes=1)  # every group fills a segment
    first, second = _message(), _message()
    spool.write(first)
    spool.write(second)
    assert len(_segments(tmp_path)) == 2

    spool.complete([first.queue_id])
    assert len(_segments(tmp_path)) == 1
    assert list(tmp_path.glob("*.done")) == []
    assert list(spool.pending()) == [second.queue_id]


def test_segment_being_written_is_kept_until_closed(tmp_path):
    spool = Spool(tmp_path)
    message = _message()
    spool.write(message)
    spool.complete([message.queue_id])
    assert len(_segments(tmp_path)) == 1

    spool.close()
    assert _segments(tmp_path) == []


def test_torn_tail_of_a_segment_is_ignored(tmp_path):
    spool = Spool(tmp_path)
    kept, torn = _message(b"kept"), _message(b"torn" * 100)
    spool.write(kept)
    spool.write(torn)
    spool.close()
    [path] = _segments(tmp_path)
    with open(path, "r+b") as file:
        file.truncate(path.stat().st_size - 50)

    recovered = Spool(tmp_path)
    assert list(recovered.pending()) == [kept.queue_id]
    with pytest.raises(SpoolError, match="not spooled"):
        recovered.read(torn.queue_id)
    recovered.complete([kept.queue_id])
    assert _segments(tmp_path) == []


def test_record_failing_its_crc_ends_the_segment(tmp_path):
    spool = Spool(tmp_path)
    good, flipped, after = _message(b"good"), _message(b"flipped"), _message()
    spool.write_many([good, flipped, after])
    spool.close()
    [path] = _segments(tmp_path)
    data = bytearray(path.read_bytes())
    data[data.index(b"flipped")] ^= 0x20
    path.write_bytes(bytes(data))

    assert list(Spool(tmp_path).pending()) == [good.queue_id]


def test_torn_line_of_a_done_file_is_ignored(tmp_path):
    spool = Spool(tmp_path)
    first, second = _message(), _message()
    spool.write_many([first, second])
    spool.complete([first.queue_id])
    [done] = tmp_path.glob("*.done")
    with open(done, "ab") as file:
        file.write(second.queue_id[:10].encode())

    assert list(Spool(tmp_path).pending()) == [second.queue_id]


def test_failed_fdatasync_answers_nothing_and_moves_to_a_new_segment(
    tmp_path, monkeypatch
):
    spool = Spool(tmp_path)
    before, failed = _message(), _message()
    spool.write(before)

    def broken(fd: int) -> None:
        raise OSError(5, "Input/output error")

    with monkeypatch.context() as patch:
        patch.setattr(os, "fdatasync", broken)
        with pytest.raises(SpoolError, match="cannot spool"):
            spool.write(failed)
    after = _message()
    spool.write(after)

    assert len(_segments(tmp_path)) == 2
    assert set(Spool(tmp_path).pending()) == {before.queue_id, after.queue_id}


def test_discarded_message_is_not_pending(tmp_path):
    spool = Spool(tmp_path)
    message = _message()
    spool.write(message)
    spool.discard([message.queue_id])
    assert list(Spool(tmp_path).pending()) == []


DEAD_WRITER = """
import os, sys
from datetime import UTC, datetime
from ingest.spool import Spool
from ingest.types import ReceivedMessage

spool = Spool(sys.argv[1])
spool.write(ReceivedMessage(sys.argv[2], "a@example.org", ("t@example.com",),
                            datetime.now(UTC), "127.0.0.1", b"body"))
os._exit(0)  # no close: the lock goes with the process
"""


def test_segment_of_a_dead_writer_is_pending_then_deleted(tmp_path):
    queue_id = new_queue_id()
    subprocess.run(
        [sys.executable, "-c", DEAD_WRITER, str(tmp_path), queue_id],
        check=True,
        timeout=60,
    )
    spool = Spool(tmp_path)
    assert list(spool.pending()) == [queue_id]
    assert spool.read(queue_id).raw == b"body"
    assert spool.complete([queue_id]) == 1
    assert list(tmp_path.iterdir()) == []


def test_files_of_the_one_file_per_message_spool_are_imported(tmp_path):
    message = _message(b"from before segments")
    envelope = {
        "queue_id": message.queue_id,
        "mail_from": "a@example.org",
        "rcpt_tos": ["test@example.com"],
        "received_at": "2024-05-06T07:08:09+00:00",
        "peer": "127.0.0.1",
    }
    legacy = tmp_path / f"{message.queue_id}.msg"
    legacy.write_bytes(json.dumps(envelope).encode() + b"\n" + message.raw)
    spool = Spool(tmp_path)

    assert spool.import_legacy() == 1
    assert not legacy.exists()
    assert list(spool.pending()) == [message.queue_id]
    assert spool.read(message.queue_id) == message
    assert spool.import_legacy() == 0


GROUP_WRITER = """
import sys
from datetime import UTC, datetime
from ingest.spool import Spool, new_queue_id
from ingest.types import ReceivedMessage

spool = Spool(sys.argv[1], segment_bytes=64 * 1024)
while True:
    group = [
        ReceivedMessage(new_queue_id(), "a@example.org", ("t@example.com",),
                        datetime.now(UTC), "127.0.0.1", b"x" * 2000)
        for _ in range(8)
    ]
    spool.write_many(group)
    print(" ".join(m.queue_id for m in group), flush=True)  # "250" for these
"""


def test_sigkill_mid_write_keeps_every_acknowledged_message(tmp_path):
    writer = subprocess.Popen(
        [sys.executable, "-c", GROUP_WRITER, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    acknowledged = []
    for _ in range(100):
        acknowledged.extend(writer.stdout.readline().split())
    writer.kill()
    writer.wait(timeout=60)
    acknowledged.extend(writer.stdout.read().split())

    spool = Spool(tmp_path)
    pending = set(spool.pending())
    assert set(acknowledged) <= pending
    assert all(spool.read(q).raw == b"x" * 2000 for q in acknowledged)
    assert len(_segments(tmp_path)) > 1
