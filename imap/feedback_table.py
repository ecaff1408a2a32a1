"""Feedback events as Parquet under ``tables/feedback/date=YYYY-MM-DD/``.

:class:`FeedbackPump` drains the metadata store's outbox in batches on a
background thread, so IMAP replies never wait for a Parquet write, and an
event leaves the outbox only after its file is written.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections import defaultdict
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from imap.feedback import FeedbackEvent
from imap.metadata import MetadataStore
from storage.root import StorageRoot

log = logging.getLogger("mailray.imap.feedback")

SCHEMA = pa.schema(
    [
        ("user", pa.string()),
        ("queue_id", pa.string()),
        ("message_id", pa.string()),
        ("label", pa.string()),
        ("source", pa.string()),
        ("mailbox", pa.string()),
        ("created_at", pa.timestamp("us", tz="UTC")),
        ("model_score", pa.float64()),
        ("model_label", pa.string()),
        ("model_version", pa.string()),
    ]
)


class FeedbackTable:
    """Writes batches of events, one file per day they fall on."""

    def __init__(self, root: StorageRoot) -> None:
        self.root = root

    def write(self, events: Sequence[FeedbackEvent]) -> list[str]:
        by_day: dict[str, list[FeedbackEvent]] = defaultdict(list)
        for event in events:
            by_day[event.created_at.strftime("%Y-%m-%d")].append(event)
        keys = []
        for day, batch in sorted(by_day.items()):
            key = f"tables/feedback/date={day}/{uuid.uuid4().hex}.parquet"
            self._write_file(key, batch)
            keys.append(key)
        return keys

    def _write_file(self, key: str, events: Sequence[FeedbackEvent]) -> None:
        table = pa.Table.from_pylist(
            [{name: getattr(event, name) for name in SCHEMA.names} for event in events],
            schema=SCHEMA,
        )
        path = self.root.path(key)
        if not self.root.is_local:
            with self.root.fs.open(path, "wb") as handle:
                pq.write_table(table, handle)
            return
        # Written aside and renamed, so a reader never sees half a file.
        os.makedirs(os.path.dirname(path), exist_ok=True)
        temporary = path + ".tmp"
        pq.write_table(table, temporary)
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)

    def drain(self, store: MetadataStore, batch_size: int = 1000) -> int:
        """Move everything in the outbox to Parquet; returns the count."""
        total = 0
        while True:
            taken = store.take_feedback(batch_size)
            if not taken:
                return total
            self.write([event for _, event in taken])
            store.ack_feedback([row_id for row_id, _ in taken])
            total += len(taken)


class FeedbackPump:
    """Drains the outbox every ``interval_s`` on a daemon thread.

    Events wait for the next round rather than waking the pump, so each
    Parquet file holds a batch; the outbox keeps them safe meanwhile.
    """

    def __init__(
        self, table: FeedbackTable, store: MetadataStore, interval_s: float = 1.0
    ) -> None:
        self.table = table
        self.store = store
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="mailray-feedback", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval_s)
            self._wake.clear()
            self._drain_once()
        self._drain_once()

    def _drain_once(self) -> None:
        try:
            count = self.table.drain(self.store)
        except Exception:
            # The outbox keeps the events; the next round retries them.
            log.exception("feedback drain failed; will retry")
            return
        if count:
            log.info("%d feedback event(s) written to tables/feedback", count)

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
