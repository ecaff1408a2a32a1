"""The store stage: objects and Parquet rows, written in batches, once each.

One writer owns the tables, so de-duplication is simple and exact: at start
it loads every queue id already stored (messages and dead letters) and then
skips any it sees again, however often an earlier stage retried or the spool
was replayed. A batch is flushed when it holds ``pipeline.flush_max_rows``
messages or its oldest message has waited ``pipeline.flush_interval_s``.
Only after a flush is durable are the spool files removed and the batch
handed to the delivery hook (IMAP, wired by the platform).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ray.util.queue import Queue

from cluster.config import Config
from ingest import queues
from ingest.records import ClassifiedWork, DeadLetter
from ingest.retry import backoff_s
from ingest.spool import Spool
from ingest.types import StoredMessage
from storage import schema
from storage.objects import AttachmentStore, RawStore
from storage.root import StorageRoot
from storage.tables import Tables
from storage.vector_indexer import IndexerSettings, VectorIndexer

log = logging.getLogger("mailray.storage")

# A callable taking list[StoredMessage] (sync or async), or an actor handle
# whose ``deliver`` method does.
Delivery = Any
DELIVERY_ATTEMPTS = 5
COMPACTION_GRACE_S = 120.0
"""How long files a compaction superseded stay for queries that listed them."""
GARBAGE_INTERVAL_S = 30.0


@dataclass
class _FlushJob:
    """One batch and the steps of its flush that are already durable."""

    items: list[ClassifiedWork | DeadLetter]
    objects_done: bool = False
    files_done: set[tuple[str, str]] = field(default_factory=set)


class StoreWriter:
    def __init__(
        self, config: Config, store_queue: Queue, delivery: Delivery | None = None
    ) -> None:
        self._config = config
        self._pipeline = config.pipeline
        self._queue = store_queue
        self._delivery = delivery
        self._root = StorageRoot.from_config(config.storage)
        self._tables = Tables(self._root)
        self._raw = RawStore(self._root)
        self._attachments = AttachmentStore(self._root)
        self._spool = Spool(config.smtp.spool_dir)
        self._stored: set[str] = set()
        self._buffer: list[ClassifiedWork | DeadLetter] = []
        self._buffered_ids: set[str] = set()
        self._oldest_s: float | None = None
        self._ingest: list[Any] = []
        self._healthy = True
        self._stopping = False
        self._counts = {
            "stored": 0,
            "dead_letters": 0,
            "duplicates_skipped": 0,
            "flushes": 0,
            "flush_failures": 0,
            "compacted_files": 0,
        }
        self._busy_s = 0.0
        self._cpu_s = 0.0
        self._garbage_at_s = 0.0
        # Search vectors, embedded in the background after each durable flush.
        self._vectors: VectorIndexer | None = None
        self._vectors_task: asyncio.Task | None = None
        if config.search.enabled:
            self._vectors = VectorIndexer(
                self._root,
                IndexerSettings.from_config(config.search),
                mail_backlog=queues.backlog,
            )

    async def start(self) -> int:
        """Clean up after old compactions and load stored ids; returns count."""
        await asyncio.to_thread(self._load_state)
        return len(self._stored)

    async def set_delivery(self, delivery: Delivery | None) -> None:
        self._delivery = delivery

    async def set_ingest(self, ingest_actors: list[Any]) -> None:
        """Ingest actors to tell when storage is down (they answer 451)."""
        self._ingest = list(ingest_actors)

    async def run(self) -> None:
        self._stopping = False
        if self._vectors is not None and self._vectors_task is None:
            self._vectors_task = asyncio.create_task(self._vectors.run())
        while not self._stopping:
            wait_s = self._pipeline.flush_interval_s
            if self._oldest_s is not None:
                wait_s = max(0.05, self._oldest_s + wait_s - time.monotonic())
            room = self._pipeline.flush_max_rows - len(self._buffer)
            batch = await queues.take(self._queue, max(room, 1), min(wait_s, 0.5))
            self.add(batch)
            if self._flush_due():
                await self.flush()

    async def stop(self) -> None:
        """Stop taking work and write what is buffered."""
        self._stopping = True
        if self._buffer:
            await self.flush()

    async def flush(self) -> None:
        """Write the buffer; retries until it is durable."""
        if not self._buffer:
            return
        job = _FlushJob(items=self._buffer)
        self._buffer, self._buffered_ids, self._oldest_s = [], set(), None
        attempt = 0
        while True:
            started, cpu_started = time.perf_counter(), time.process_time()
            try:
                await asyncio.to_thread(self._write, job)
                break
            except Exception as exc:
                attempt += 1
                self._counts["flush_failures"] += 1
                delay_s = backoff_s(attempt, self._pipeline.retry_base_s, cap_s=10.0)
                log.error(
                    "%s flush of %d messages failed (attempt %d), retry in %.1fs: %r",
                    job.items[0].queue_id,
                    len(job.items),
                    attempt,
                    delay_s,
                    exc,
                )
                await self._set_health(False)
                await asyncio.sleep(delay_s)
            finally:
                self._busy_s += time.perf_counter() - started
                self._cpu_s += time.process_time() - cpu_started
        await self._set_health(True)

        stored = [i for i in job.items if isinstance(i, ClassifiedWork)]
        self._counts["stored"] += len(stored)
        self._counts["dead_letters"] += len(job.items) - len(stored)
        self._counts["flushes"] += 1
        await asyncio.to_thread(self._after_flush, job)
        if stored and self._vectors is not None:
            self._vectors.submit([schema.message_row(w) for w in stored])
        if stored:
            await self._deliver([stored_message(w) for w in stored])

    async def stats(self) -> dict[str, Any]:
        return {
            "stage": "store",
            **self._counts,
            "buffered": len(self._buffer),
            "healthy": self._healthy,
            "busy_s": round(self._busy_s, 3),
            "cpu_s": round(self._cpu_s, 3),
        }

    def add(self, batch: list[ClassifiedWork | DeadLetter]) -> None:
        for item in batch:
            queue_id = item.queue_id
            if queue_id in self._stored or queue_id in self._buffered_ids:
                self._counts["duplicates_skipped"] += 1
                continue
            self._buffer.append(item)
            self._buffered_ids.add(queue_id)
            if self._oldest_s is None:
                self._oldest_s = time.monotonic()

    def _flush_due(self) -> bool:
        if not self._buffer:
            return False
        if len(self._buffer) >= self._pipeline.flush_max_rows:
            return True
        assert self._oldest_s is not None
        return time.monotonic() - self._oldest_s >= self._pipeline.flush_interval_s

    def _load_state(self) -> None:
        self._collect_garbage()
        self._stored = self._tables.column_values(
            "messages", "queue_id"
        ) | self._tables.column_values("dead_letters", "queue_id")
        log.info("store writer: %d messages already stored", len(self._stored))

    def _write(self, job: _FlushJob) -> None:
        if not job.objects_done:
            for item in job.items:
                self._raw.put(item.queue_id, item.received.raw)
                if isinstance(item, ClassifiedWork):
                    for attachment in item.parsed.attachments:
                        self._attachments.put(attachment.payload, attachment.sha256)
            job.objects_done = True

        for (name, partition), table in _tables_of(job.items).items():
            if (name, partition) in job.files_done:
                continue
            self._tables.write(name, partition, table)
            job.files_done.add((name, partition))

    def _collect_garbage(self) -> None:
        for name in schema.SCHEMAS:
            try:
                removed = self._tables.collect_garbage(name, COMPACTION_GRACE_S)
            except Exception as exc:  # an optimisation; next time then
                log.warning("cleaning up after compaction of %s: %r", name, exc)
                continue
            if removed:
                log.info("removed %d compacted-away files of %s", removed, name)
        self._garbage_at_s = time.monotonic()

    def _after_flush(self, job: _FlushJob) -> None:
        queue_ids = [item.queue_id for item in job.items]
        self._stored.update(queue_ids)
        self._spool.complete(queue_ids)
        for name, partition in job.files_done:
            try:
                self._counts["compacted_files"] += self._tables.compact(
                    name, partition, self._pipeline.compact_min_files
                )
            except Exception as exc:  # compaction is an optimisation; retry later
                log.warning("compaction of %s/%s failed: %r", name, partition, exc)
        if time.monotonic() - self._garbage_at_s >= GARBAGE_INTERVAL_S:
            self._collect_garbage()

    async def _set_health(self, healthy: bool) -> None:
        if healthy == self._healthy:
            return
        self._healthy = healthy
        for actor in self._ingest:
            try:
                await actor.set_store_ok.remote(healthy)
            except Exception as exc:
                log.warning("cannot tell ingest actor about storage: %r", exc)

    async def _deliver(self, messages: list[StoredMessage]) -> None:
        if self._delivery is None:
            return
        for attempt in range(1, DELIVERY_ATTEMPTS + 1):
            try:
                await call_delivery(self._delivery, messages)
                return
            except Exception as exc:
                log.error(
                    "%s delivery of %d messages failed (attempt %d): %r",
                    messages[0].queue_id,
                    len(messages),
                    attempt,
                    exc,
                )
                await asyncio.sleep(backoff_s(attempt, self._pipeline.retry_base_s))
        # TODO(#4): a durable delivery outbox; today the message is stored and
        # queryable but missing from the mailbox after repeated failures.


async def call_delivery(delivery: Delivery, messages: list[StoredMessage]) -> None:
    """Call a delivery hook: an actor handle with ``deliver`` or a callable."""
    method = getattr(delivery, "deliver", None)
    if method is not None and hasattr(method, "remote"):
        await method.remote(messages)
        return
    fn: Callable[[list[StoredMessage]], Any] = method or delivery
    result = fn(messages)
    if inspect.isawaitable(result):
        await result


def stored_message(work: ClassifiedWork) -> StoredMessage:
    received, parsed, verdict = work.received, work.parsed, work.verdict
    return StoredMessage(
        queue_id=received.queue_id,
        mail_from=received.mail_from,
        rcpt_tos=received.rcpt_tos,
        received_at=received.received_at,
        size=len(received.raw),
        raw_key=schema.raw_key(received.queue_id),
        message_id=parsed.message_id,
        subject=parsed.subject,
        from_=parsed.from_,
        spam_score=verdict.spam_score,
        label=verdict.label,
        model_version=verdict.model_version,
    )


def _tables_of(items: list[ClassifiedWork | DeadLetter]) -> dict[tuple[str, str], Any]:
    rows: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        partition = schema.partition_of(item.received.received_at)
        if isinstance(item, DeadLetter):
            rows["dead_letters", partition].append(schema.dead_letter_row(item))
            continue
        rows["messages", partition].append(schema.message_row(item))
        rows["attachments", partition].extend(schema.attachment_rows(item))
    return {
        key: schema.to_table(values, schema.SCHEMAS[key[0]])
        for key, values in rows.items()
        if values
    }
