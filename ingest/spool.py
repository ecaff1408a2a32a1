"""The durable local spool: a message is here before SMTP answers 250.

Each accepted message is one file ``<queue_id>.msg``: a JSON line with the
envelope, then the raw bytes. It is written to a temporary name, fsynced,
renamed and the folder fsynced, so after :meth:`Spool.write` returns the
message survives a crash of the process or the machine. The store stage
removes files once their rows are durably stored; whatever is left at
start-up is processed again (the store stage skips queue ids it already
holds, so a retry never stores twice).
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from ingest.errors import SpoolError
from ingest.types import ReceivedMessage

log = logging.getLogger("mailray.ingest")

_SUFFIX = ".msg"
_TMP_SUFFIX = ".tmp"


def new_queue_id() -> str:
    """A fresh queue id: 32 hex digits, random first so ``[:2]`` shards well."""
    return uuid.uuid4().hex


class Spool:
    """A folder of accepted messages awaiting storage."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def path_of(self, queue_id: str) -> Path:
        return self.directory / f"{queue_id}{_SUFFIX}"

    def write(self, message: ReceivedMessage) -> None:
        """Write and fsync ``message``; blocking, call it from a thread."""
        self.write_many([message])

    def write_many(self, messages: list[ReceivedMessage]) -> None:
        """Write and fsync several messages with one folder fsync (group
        commit); all are durable when it returns, or it raises."""
        for message in messages:
            self._write_file(message)
        try:
            self._fsync_dir()
        except OSError as exc:
            raise SpoolError(messages[0].queue_id, f"cannot sync spool: {exc}") from exc

    def _write_file(self, message: ReceivedMessage) -> None:
        header = json.dumps(
            {
                "queue_id": message.queue_id,
                "mail_from": message.mail_from,
                "rcpt_tos": list(message.rcpt_tos),
                "received_at": message.received_at.isoformat(),
                "peer": message.peer,
            }
        ).encode()
        final = self.path_of(message.queue_id)
        tmp = final.with_suffix(_TMP_SUFFIX)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                _write_all(fd, header + b"\n" + message.raw)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(tmp, final)
        except OSError as exc:
            raise SpoolError(message.queue_id, f"cannot spool: {exc}") from exc

    def read(self, queue_id: str) -> ReceivedMessage:
        try:
            data = self.path_of(queue_id).read_bytes()
        except OSError as exc:
            raise SpoolError(queue_id, f"cannot read: {exc}") from exc
        return _decode(queue_id, data)

    def discard(self, queue_id: str) -> None:
        """Remove one message that was never acknowledged (no 250 given)."""
        self.complete([queue_id])

    def complete(self, queue_ids: Iterable[str]) -> int:
        """Remove messages that are durably stored; returns how many."""
        removed = 0
        for queue_id in queue_ids:
            try:
                self.path_of(queue_id).unlink()
                removed += 1
            except FileNotFoundError:
                continue
        if removed:
            self._fsync_dir()
        return removed

    def touch(self, queue_ids: Iterable[str]) -> None:
        """Mark messages as just enqueued, so a sweep waits before resending."""
        for queue_id in queue_ids:
            try:
                os.utime(self.path_of(queue_id))
            except FileNotFoundError:
                continue

    def pending(self, older_than_s: float = 0.0) -> Iterator[str]:
        """Queue ids still spooled, oldest first, optionally only stale ones."""
        now = time.time()
        entries = []
        with os.scandir(self.directory) as it:
            for entry in it:
                if not entry.name.endswith(_SUFFIX):
                    continue
                try:
                    mtime = entry.stat().st_mtime
                except FileNotFoundError:
                    continue
                if now - mtime >= older_than_s:
                    entries.append((mtime, entry.name.removesuffix(_SUFFIX)))
        for _, queue_id in sorted(entries):
            yield queue_id

    def remove_partial(self) -> int:
        """Delete temporary files left by a crash mid-write (never answered)."""
        removed = 0
        for path in self.directory.glob(f"*{_TMP_SUFFIX}"):
            path.unlink(missing_ok=True)
            removed += 1
        return removed

    def _fsync_dir(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _decode(queue_id: str, data: bytes) -> ReceivedMessage:
    header, sep, raw = data.partition(b"\n")
    if not sep:
        raise SpoolError(queue_id, "spool file has no envelope line")
    try:
        envelope = json.loads(header)
        received_at = datetime.fromisoformat(envelope["received_at"])
    except (ValueError, KeyError) as exc:
        raise SpoolError(queue_id, f"bad envelope line: {exc}") from exc
    if received_at.tzinfo is None:
        received_at = received_at.replace(tzinfo=UTC)
    return ReceivedMessage(
        queue_id=envelope["queue_id"],
        mail_from=envelope["mail_from"],
        rcpt_tos=tuple(envelope["rcpt_tos"]),
        received_at=received_at,
        peer=envelope["peer"],
        raw=raw,
    )
