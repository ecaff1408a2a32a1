"""The loop every pipeline stage runs: take a batch, work, pass it on.

A stage is an async Ray actor with a fractional CPU. It takes batches from
its inbox queue, processes them, and puts the results on its outbox, waiting
for room there (so a slow stage pushes back all the way to SMTP). A message
that fails is retried with backoff; after ``pipeline.max_attempts`` failures
it goes to the store queue as a :class:`DeadLetter` with its error.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from datetime import UTC, datetime
from typing import Any

from ray.util.queue import Queue

from cluster.config import PipelineConfig
from ingest import queues
from ingest.records import DeadLetter
from ingest.retry import after_failure
from ingest.types import ReceivedMessage

log = logging.getLogger("mailray.ingest")


class StageLoop:
    """Base of the parse and classify stages; subclasses define ``process``."""

    stage = "stage"
    concurrency = 1

    def __init__(
        self, config: PipelineConfig, inbox: Queue, outbox: Queue, store: Queue
    ) -> None:
        self._config = config
        self._inbox = inbox
        self._outbox = outbox
        self._store = store
        self._attempts: dict[str, int] = {}
        self._retry_heap: list[tuple[float, int, Any]] = []
        self._seq = itertools.count()
        self._stopping = False
        self._counts = {"processed": 0, "failed": 0, "dead_lettered": 0}
        self._busy_s = 0.0
        self._cpu_s = 0.0

    async def process(self, batch: list[Any]) -> list[Any | BaseException]:
        """One result or exception per input item, in order."""
        raise NotImplementedError

    async def run(self) -> None:
        """Runs until :meth:`stop`; the platform calls it again after a restart.

        ``concurrency`` batches are worked on at once, so a stage that waits
        on another service (the classifier) keeps it busy between batches.
        """
        self._stopping = False
        await asyncio.gather(*(self._work() for _ in range(self.concurrency)))

    async def _work(self) -> None:
        while not self._stopping:
            batch = self._due_retries()
            room = self._config.batch_size - len(batch)
            wait_s = 0.0 if batch else self._idle_wait_s()
            if room > 0:
                batch.extend(await queues.take(self._inbox, room, max(wait_s, 0.05)))
            if not batch:
                continue
            await self._handle(batch)

    async def stop(self) -> None:
        self._stopping = True

    async def stats(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            **self._counts,
            "retrying": len(self._retry_heap),
            "busy_s": round(self._busy_s, 3),
            "cpu_s": round(self._cpu_s, 3),
        }

    async def _handle(self, batch: list[Any]) -> None:
        started, cpu_started = time.perf_counter(), time.process_time()
        results = await self.process(batch)
        self._busy_s += time.perf_counter() - started
        self._cpu_s += time.process_time() - cpu_started

        done, dead = [], []
        for item, result in zip(batch, results, strict=True):
            queue_id = item.queue_id
            if not isinstance(result, BaseException):
                self._attempts.pop(queue_id, None)
                done.append(result)
                continue
            attempts = self._attempts.get(queue_id, 0) + 1
            self._counts["failed"] += 1
            decision = after_failure(
                attempts, self._config.max_attempts, self._config.retry_base_s
            )
            log.warning(
                "%s %s attempt %d failed: %r", queue_id, self.stage, attempts, result
            )
            if decision.dead_letter:
                self._attempts.pop(queue_id, None)
                dead.append(self._dead_letter(item, result, attempts))
                continue
            self._attempts[queue_id] = attempts
            due = time.monotonic() + decision.delay_s
            heapq.heappush(self._retry_heap, (due, next(self._seq), item))

        self._counts["processed"] += len(done)
        self._counts["dead_lettered"] += len(dead)
        if done:
            await queues.put_all(self._outbox, done)
        if dead:
            await queues.put_all(self._store, dead)

    def _idle_wait_s(self) -> float:
        """How long to wait on the queue: an arriving item ends the wait at
        once, so this only bounds how late a retry falls due or a stop is
        seen; every wait is a call on the queue actor, so not too short."""
        wait_s = self._config.batch_wait_s
        if self._retry_heap:
            wait_s = min(wait_s, self._retry_heap[0][0] - time.monotonic())
        return wait_s

    def _due_retries(self) -> list[Any]:
        now = time.monotonic()
        due = []
        while self._retry_heap and self._retry_heap[0][0] <= now:
            due.append(heapq.heappop(self._retry_heap)[2])
        return due

    def _dead_letter(
        self, item: Any, error: BaseException, attempts: int
    ) -> DeadLetter:
        received: ReceivedMessage = getattr(item, "received", item)
        log.error(
            "%s dead-lettered by %s after %d attempts: %r",
            received.queue_id,
            self.stage,
            attempts,
            error,
        )
        return DeadLetter(
            received=received,
            stage=self.stage,
            error=f"{type(error).__name__}: {error}"[:2000],
            attempts=attempts,
            failed_at=datetime.now(UTC),
        )
