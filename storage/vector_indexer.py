"""The store stage's vector indexing, off its critical path.

After a Parquet batch is durable the store stage hands its ``messages``
rows to :meth:`VectorIndexer.submit`, which never waits: a background task
embeds and upserts them batch by batch on a worker thread. Nothing here can
lose or hold up a message, because the Parquet tables are the record:

- when embedding or writing fails, the batch is dropped, the failure
  logged, and the indexer marks itself behind;
- when more than ``max_backlog_batches`` wait, new ones are dropped the
  same way rather than held in memory;
- while behind, each idle ``catch_up_interval_s`` it runs
  :func:`storage.indexing.catch_up`, which indexes whatever the tables hold
  and the vector table lacks.

Under a burst of mail it steps aside: while ``search.indexer_yield_backlog``
or more messages wait in the stage queues it embeds nothing (new batches
pile up to the backlog bound, then catch-up takes over), because even at
the lowest CPU priority its forward passes slowed the classifier by about
a seventh (cache and memory bandwidth are shared). Its worker thread also
runs at that lowest priority (``SCHED_IDLE``, see ``search.indexer_idle``).

TODO(#6): the embedding should come from the classifier replica's own
forward pass (adapters disabled, see ``serve.embedding``); today the store
actor loads the base encoder itself, a second copy of MiniLM on that node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from storage.root import StorageRoot

if TYPE_CHECKING:
    from cluster.config import SearchConfig

log = logging.getLogger("mailray.storage")


@dataclass(frozen=True)
class IndexerSettings:
    embedding_max_tokens: int = 128
    embedding_torch_threads: int = 1
    max_backlog_batches: int = 20
    catch_up_interval_s: float = 30.0
    ann_min_rows: int = 50_000
    fts_refresh_rows: int = 1_000
    nice: int = 10
    idle: bool = True
    yield_backlog: int = 0
    """Embed nothing while this many messages wait for the mail path (0:
    never wait)."""
    yield_poll_s: float = 1.0

    @classmethod
    def from_config(cls, search: SearchConfig) -> IndexerSettings:
        return cls(
            embedding_max_tokens=search.embedding_max_tokens,
            embedding_torch_threads=search.embedding_torch_threads,
            max_backlog_batches=search.max_backlog_batches,
            catch_up_interval_s=search.catch_up_interval_s,
            ann_min_rows=search.ann_min_rows,
            fts_refresh_rows=search.fts_refresh_rows,
            nice=search.indexer_nice,
            idle=search.indexer_idle,
            yield_backlog=search.indexer_yield_backlog,
        )


# How many messages wait in the mail path's stage queues.
BacklogFn = Callable[[], Awaitable[int]]


class VectorIndexer:
    def __init__(
        self,
        root: StorageRoot,
        settings: IndexerSettings | None = None,
        mail_backlog: BacklogFn | None = None,
    ):
        self._root = root
        self._settings = settings or IndexerSettings()
        self._mail_backlog = mail_backlog
        self._pending: deque[list[dict[str, Any]]] = deque()
        self._wake = asyncio.Event()
        self._behind = True  # a fresh start may follow a crash: check once
        self._counts = {
            "indexed": 0,
            "failed_batches": 0,
            "dropped_batches": 0,
            "yielded_s": 0.0,
        }
        self._store: Any = None
        self._embedder: Any = None
        self._worker = ThreadPoolExecutor(
            1,
            thread_name_prefix="vector-index",
            initializer=lower_thread_priority,
            initargs=(self._settings.nice, self._settings.idle),
        )

    def submit(self, rows: list[dict[str, Any]]) -> None:
        """Queue durable ``messages`` rows for indexing; never blocks."""
        if not rows:
            return
        if len(self._pending) >= self._settings.max_backlog_batches:
            self._counts["dropped_batches"] += 1
            self._behind = True
            log.warning(
                "%s vector indexing backlog full; %d messages left for catch-up",
                rows[0]["queue_id"],
                len(rows),
            )
            return
        self._pending.append(rows)
        self._wake.set()

    def stats(self) -> dict[str, Any]:
        return {**self._counts, "pending_batches": len(self._pending)}

    async def run(self) -> None:
        """Index until cancelled."""
        while True:
            # Woken by new work, or by the clock while behind.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._wake.wait(), self._settings.catch_up_interval_s
                )
            self._wake.clear()
            while self._pending:
                await self._yield_to_mail()
                rows = self._pending.popleft()
                try:
                    self._counts["indexed"] += await self._in_worker(self._index, rows)
                except Exception as exc:
                    self._counts["failed_batches"] += 1
                    self._behind = True
                    log.error(
                        "%s vector indexing of %d messages failed; catch-up "
                        "will retry: %r",
                        rows[0]["queue_id"],
                        len(rows),
                        exc,
                    )
            if self._behind and not self._pending:
                await self._yield_to_mail()
                try:
                    added = await self._in_worker(self._catch_up)
                    self._counts["indexed"] += added
                    self._behind = False
                except Exception as exc:
                    log.error("vector catch-up failed; retry later: %r", exc)

    async def _yield_to_mail(self) -> None:
        """Wait while the mail path has a backlog: search may trail, mail not."""
        if self._mail_backlog is None or self._settings.yield_backlog <= 0:
            return
        waited = False
        while True:
            try:
                waiting = await self._mail_backlog()
            except Exception as exc:  # queues gone (a stop): index anyway
                log.debug("mail backlog unknown, indexing: %r", exc)
                return
            if waiting < self._settings.yield_backlog:
                return
            if not waited:
                log.info("vector indexing waits: %d messages queued for mail", waiting)
                waited = True
            await asyncio.sleep(self._settings.yield_poll_s)
            self._counts["yielded_s"] += self._settings.yield_poll_s

    async def _in_worker(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._worker, fn, *args)

    def _ready(self) -> tuple[Any, Any]:
        if self._store is None:
            from serve.embedding import Embedder
            from storage.vectors import IndexPolicy, VectorStore

            policy = IndexPolicy(
                ann_min_rows=self._settings.ann_min_rows,
                fts_refresh_rows=self._settings.fts_refresh_rows,
            )
            self._embedder = Embedder.load(
                self._settings.embedding_max_tokens,
                torch_threads=self._settings.embedding_torch_threads,
            )
            self._store = VectorStore(self._root, policy)
        return self._store, self._embedder

    def _index(self, rows: list[dict[str, Any]]) -> int:
        from storage.indexing import index_messages

        store, embedder = self._ready()
        written = index_messages(store, embedder, rows)
        store.maintain()
        return written

    def _catch_up(self) -> int:
        from storage.indexing import catch_up

        store, embedder = self._ready()
        return catch_up(self._root, embedder, store)


def lower_thread_priority(increment: int, idle: bool = False) -> None:
    """Lower the calling thread's CPU priority (Linux sets it per thread).

    ``idle``: the SCHED_IDLE policy, which runs the thread only on a core
    nothing else wants. Otherwise, or where that fails, the nice value goes
    up by ``increment``; where neither is possible the thread runs as it is.
    """
    if idle and hasattr(os, "SCHED_IDLE"):
        try:
            # pid 0: the calling thread, not the whole process.
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
            return
        except OSError as exc:
            log.debug("cannot run the indexer under SCHED_IDLE: %r", exc)
    if increment <= 0:
        return
    try:
        thread = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, current + increment))
    except (AttributeError, OSError) as exc:
        log.debug("cannot lower the indexer's priority: %r", exc)
