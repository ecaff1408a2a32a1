"""The durable local spool: a message is here before SMTP answers 250.

Accepted messages are appended to segment files (records as in
:mod:`ingest.segment`), a whole group with one ``fdatasync``: after
:meth:`Spool.write_many` returns, every message of the group survives a
crash of the process or the machine. One Spool writes a segment, holding
an ``flock`` on it until it moves on to a new one or its process ends.

The store stage calls :meth:`Spool.complete` once rows are durably stored;
that appends the queue ids to the segment's ``.done`` file, and a segment
nobody writes any more whose every record is done is deleted. Whatever is
not done at start-up is processed again (the store stage skips queue ids
it already holds, so a retry never stores twice).

Files: ``<name>.seg`` (records), ``<name>.done`` (completed queue ids, one
a line), ``<name>.tmp`` (a segment being created), and ``<queue_id>.msg``
(one message each, as spooled before segments; imported at recovery).
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ingest import segment
from ingest.errors import SpoolError
from ingest.segment import Record
from ingest.types import ReceivedMessage

log = logging.getLogger("mailray.ingest")

SEGMENT_BYTES = 4 * 1024 * 1024
"""A segment takes no more groups once it holds this much."""

_SEGMENT = ".seg"
_DONE = ".done"
_TMP = ".tmp"
_LEGACY = ".msg"


def new_queue_id() -> str:
    """A fresh queue id: 32 hex digits, random first so ``[:2]`` shards well."""
    return uuid.uuid4().hex


@dataclass
class _Writing:
    """The segment this Spool appends to, locked while it is open."""

    name: str
    fd: int
    size: int = 0
    entry_synced: bool = False


@dataclass
class _Segment:
    """What this Spool has read of one segment and its ``.done`` file."""

    records: dict[str, Record] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)
    scanned_to: int = 0
    done_read_to: int = 0

    def open_ids(self) -> set[str]:
        return self.records.keys() - self.done


class Spool:
    """A folder of accepted messages awaiting storage; thread-safe."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        segment_bytes: int = SEGMENT_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if segment_bytes < 1:
            raise ValueError(f"segment_bytes must be >= 1, got {segment_bytes}")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._segment_bytes = segment_bytes
        self._clock = clock
        self._write_lock = threading.Lock()
        self._writing: _Writing | None = None
        # The index, under _lock: segment name -> state, queue id -> name.
        self._lock = threading.Lock()
        self._segments: dict[str, _Segment] = {}
        self._where: dict[str, str] = {}
        self._touched: dict[str, float] = {}

    def write(self, message: ReceivedMessage) -> None:
        """Append and fsync ``message``; blocking, call it from a thread."""
        self.write_many([message])

    def write_many(self, messages: list[ReceivedMessage]) -> None:
        """Append several messages with one fdatasync (group commit); all
        are durable when it returns, or it raises :class:`SpoolError`."""
        if not messages:
            return
        spooled_at = self._clock()
        encoded = [segment.encode(message, spooled_at) for message in messages]
        with self._write_lock:
            try:
                writing = self._writing or self._open_segment()
                _write_all(writing.fd, b"".join(encoded))
                os.fdatasync(writing.fd)
                if not writing.entry_synced:
                    self._fsync_dir()
                    writing.entry_synced = True
            except OSError as exc:
                self._abandon(messages)
                raise SpoolError(messages[0].queue_id, f"cannot spool: {exc}") from exc
            writing.size += sum(len(data) for data in encoded)
            if writing.size >= self._segment_bytes:
                self._close_writing()

    def read(self, queue_id: str) -> ReceivedMessage:
        with self._lock:
            if queue_id not in self._where:
                self._refresh()
            name = self._where.get(queue_id)
            if name is None:
                raise SpoolError(queue_id, "cannot read: not spooled")
            record = self._segments[name].records[queue_id]
        try:
            with open(self._path(name, _SEGMENT), "rb") as file:
                file.seek(record.offset)
                payload = file.read(record.length)
        except OSError as exc:
            raise SpoolError(queue_id, f"cannot read: {exc}") from exc
        if len(payload) != record.length:
            raise SpoolError(queue_id, "cannot read: segment is short")
        return segment.decode(queue_id, payload)

    def discard(self, queue_ids: Iterable[str]) -> None:
        """Drop messages that were never acknowledged (no 250 given)."""
        self.complete(queue_ids)

    def complete(self, queue_ids: Iterable[str]) -> int:
        """Mark messages durably stored and delete segments left with none
        to store; returns how many were pending."""
        wanted = list(dict.fromkeys(queue_ids))
        completed = 0
        with self._lock:
            if any(queue_id not in self._where for queue_id in wanted):
                self._refresh()
            by_segment: dict[str, list[str]] = {}
            for queue_id in wanted:
                name = self._where.get(queue_id)
                if name is not None and queue_id not in self._segments[name].done:
                    by_segment.setdefault(name, []).append(queue_id)
            for name, done in by_segment.items():
                self._append_done(name, done)
                completed += len(done)
            if by_segment:
                self._fsync_dir()
            self._collect_garbage()
        return completed

    def touch(self, queue_ids: Iterable[str]) -> None:
        """Mark messages as just enqueued, so a sweep waits before resending
        (kept in memory: after a restart everything is resent anyway)."""
        now = self._clock()
        with self._lock:
            self._touched.update((queue_id, now) for queue_id in queue_ids)

    def pending(self, older_than_s: float = 0.0) -> Iterator[str]:
        """Queue ids still spooled, oldest first, optionally only stale ones."""
        with self._lock:
            self._refresh()
            now = self._clock()
            entries = []
            for state in self._segments.values():
                for queue_id in state.open_ids():
                    at = max(
                        state.records[queue_id].spooled_at,
                        self._touched.get(queue_id, 0.0),
                    )
                    if now - at >= older_than_s:
                        entries.append((at, queue_id))
        for _, queue_id in sorted(entries):
            yield queue_id

    def remove_partial(self) -> int:
        """Delete segments a crash left half created (nothing in them was
        answered); returns how many."""
        removed = 0
        for path in self.directory.glob(f"*{_TMP}"):
            fd = _lock_unused(path)
            if fd is None:
                continue
            try:
                path.unlink(missing_ok=True)
                removed += 1
            finally:
                os.close(fd)
        return removed

    def import_legacy(self, chunk: int = 100) -> int:
        """Move messages spooled one file each (before segments) into
        segments; returns how many. Idempotent after a crash midway."""
        paths = sorted(self.directory.glob(f"*{_LEGACY}"))
        if not paths:
            return 0
        with self._lock:
            self._refresh()
            known = set(self._where)
        imported = 0
        for start in range(0, len(paths), chunk):
            moved, fresh = [], []
            for path in paths[start : start + chunk]:
                queue_id = path.name.removesuffix(_LEGACY)
                try:
                    if queue_id not in known:
                        fresh.append(segment.decode(queue_id, path.read_bytes()))
                except (OSError, SpoolError) as exc:
                    log.error("%s cannot import %s: %s", queue_id, path.name, exc)
                    continue
                moved.append(path)
            self.write_many(fresh)
            for path in moved:
                path.unlink(missing_ok=True)
            imported += len(fresh)
        self._fsync_dir()
        return imported

    def close(self) -> None:
        """Stop writing; the segment written last goes too if it is done."""
        with self._write_lock:
            self._close_writing()
        with self._lock:
            self._refresh()
            self._collect_garbage()

    # -- writing -----------------------------------------------------------

    def _open_segment(self) -> _Writing:
        # Created under a temporary name and renamed once locked, so any
        # .seg file that can be locked is one nobody will append to again.
        name = uuid.uuid4().hex
        tmp = self._path(name, _TMP)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.rename(tmp, self._path(name, _SEGMENT))
        except OSError:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        self._writing = _Writing(name, fd)
        return self._writing

    def _close_writing(self) -> None:
        if self._writing is not None:
            os.close(self._writing.fd)
            self._writing = None

    def _abandon(self, messages: list[ReceivedMessage]) -> None:
        # After a failed write or fsync the segment's tail is unknown: take
        # no more groups into it, and mark this group done so that none of
        # it, never answered 250, is recovered should it be on disk.
        if self._writing is None:
            return
        name = self._writing.name
        self._close_writing()
        try:
            with self._lock:
                self._append_done(name, [message.queue_id for message in messages])
        except OSError as exc:
            log.error("segment %s: cannot mark a failed group done: %s", name, exc)

    # -- the index ---------------------------------------------------------

    def _refresh(self) -> None:
        """Read what was appended since the last refresh, and forget what
        was deleted (here or by another process)."""
        names, done_names = set(), set()
        with os.scandir(self.directory) as entries:
            for entry in entries:
                name, suffix = os.path.splitext(entry.name)
                if suffix == _SEGMENT:
                    names.add(name)
                elif suffix == _DONE:
                    done_names.add(name)
        for name in self._segments.keys() - names:
            self._forget(name)
        for name in done_names - names:
            # Its segment was deleted as this one was appended to.
            self._path(name, _DONE).unlink(missing_ok=True)
        for name in names:
            self._read_new(name, self._segments.setdefault(name, _Segment()))

    def _read_new(self, name: str, state: _Segment) -> None:
        try:
            data = _read_from(self._path(name, _SEGMENT), state.scanned_to)
        except FileNotFoundError:
            self._forget(name)
            return
        records, state.scanned_to = segment.scan(data, state.scanned_to)
        for record in records:
            state.records[record.queue_id] = record
            self._where[record.queue_id] = name

        try:
            data = _read_from(self._path(name, _DONE), state.done_read_to)
        except FileNotFoundError:
            return
        # A crash can tear the last line; only whole lines count.
        whole = data[: data.rfind(b"\n") + 1]
        state.done.update(line.decode("ascii") for line in whole.split())
        state.done_read_to += len(whole)

    def _append_done(self, name: str, queue_ids: list[str]) -> None:
        # Appends are one write each, so the store stage and an ingest actor
        # discarding a message can both add to the same file.
        path = self._path(name, _DONE)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            _write_all(fd, "".join(f"{q}\n" for q in queue_ids).encode("ascii"))
            os.fdatasync(fd)
        finally:
            os.close(fd)
        self._segments.setdefault(name, _Segment()).done.update(queue_ids)

    def _collect_garbage(self) -> None:
        for name, state in list(self._segments.items()):
            if not state.open_ids():
                self._delete_if_unused(name, state)

    def _delete_if_unused(self, name: str, state: _Segment) -> None:
        path = self._path(name, _SEGMENT)
        fd = _lock_unused(path)
        if fd is None:
            return
        try:
            # Its writer may have appended a last group before letting go.
            self._read_new(name, state)
            if state.open_ids():
                return
            path.unlink(missing_ok=True)
            self._path(name, _DONE).unlink(missing_ok=True)
            self._forget(name)
        finally:
            os.close(fd)

    def _forget(self, name: str) -> None:
        state = self._segments.pop(name, None)
        if state is None:
            return
        for queue_id in state.records:
            if self._where.get(queue_id) == name:
                del self._where[queue_id]
            self._touched.pop(queue_id, None)

    def _path(self, name: str, suffix: str) -> Path:
        return self.directory / f"{name}{suffix}"

    def _fsync_dir(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _lock_unused(path: Path) -> int | None:
    """An fd holding ``path``'s flock, or None if missing or in use."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _read_from(path: Path, offset: int) -> bytes:
    with open(path, "rb") as file:
        file.seek(offset)
        return file.read()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
