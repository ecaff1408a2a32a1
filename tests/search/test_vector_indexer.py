"""The store stage's vector indexer: never blocks, never loses, catches up."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest

from storage import schema
from storage.root import StorageRoot
from storage.vector_indexer import IndexerSettings, VectorIndexer
from storage.vectors import VectorStore
from tests.search.store import fixture_work, write_messages

NAMES = ("pills", "meeting", "invoice", "hiking", "loan", "review")


async def _run_until(indexer: VectorIndexer, root: StorageRoot, rows: int) -> None:
    task = asyncio.create_task(indexer.run())
    try:
        for _ in range(600):
            if VectorStore(root).count() >= rows:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"not indexed: {indexer.stats()}")
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


@pytest.fixture
def stored(tmp_path, embedder):
    root = StorageRoot(url=str(tmp_path / "store"))
    works = [fixture_work(n) for n in NAMES]
    write_messages(root, works)
    return root, [schema.message_row(w) for w in works]


async def test_submitted_rows_are_embedded_and_searchable(stored):
    from storage.search import search

    root, rows = stored
    indexer = VectorIndexer(root, IndexerSettings(catch_up_interval_s=60))
    indexer.submit(rows[:3])
    indexer.submit(rows[3:])
    await _run_until(indexer, root, len(rows))
    hits = search(root, "overdue invoice", mode="text")
    assert hits[0].queue_id == rows[NAMES.index("invoice")]["queue_id"]


async def test_a_full_backlog_drops_batches_that_catch_up_indexes_later(stored):
    root, rows = stored
    indexer = VectorIndexer(
        root, IndexerSettings(max_backlog_batches=1, catch_up_interval_s=0.2)
    )
    for row in rows:
        indexer.submit([row])
    assert indexer.stats()["dropped_batches"] == len(rows) - 1
    await _run_until(indexer, root, len(rows))
    assert VectorStore(root).queue_ids() == {r["queue_id"] for r in rows}


async def test_a_failed_batch_is_retried_by_catch_up(stored, monkeypatch):
    root, rows = stored
    indexer = VectorIndexer(root, IndexerSettings(catch_up_interval_s=0.2))
    real_index = indexer._index
    calls = []

    def failing_once(batch):
        calls.append(len(batch))
        if len(calls) == 1:
            raise OSError("object store unreachable")
        return real_index(batch)

    monkeypatch.setattr(indexer, "_index", failing_once)
    indexer.submit(rows)
    await _run_until(indexer, root, len(rows))
    assert indexer.stats()["failed_batches"] == 1


async def test_indexing_waits_while_mail_is_queued_then_catches_up(stored):
    root, rows = stored
    backlog = [500, 120, 40, 0]  # a burst draining; below 32 it may index
    asked: list[int] = []

    async def mail_backlog() -> int:
        asked.append(backlog[min(len(asked), len(backlog) - 1)])
        return asked[-1]

    settings = IndexerSettings(yield_backlog=32, yield_poll_s=0.05)
    indexer = VectorIndexer(root, settings, mail_backlog=mail_backlog)
    indexer.submit(rows)
    await _run_until(indexer, root, len(rows))

    # The burst was waited out (three polls) before the first batch.
    assert asked[:4] == [500, 120, 40, 0]
    assert indexer.stats()["yielded_s"] == pytest.approx(0.15)


async def test_an_unknown_backlog_does_not_stop_indexing(stored):
    root, rows = stored

    async def gone() -> int:
        raise RuntimeError("queue actors are gone")

    settings = IndexerSettings(yield_backlog=1, yield_poll_s=0.05)
    indexer = VectorIndexer(root, settings, mail_backlog=gone)
    indexer.submit(rows)
    await _run_until(indexer, root, len(rows))


def test_lower_thread_priority_changes_only_the_calling_thread():
    from storage.vector_indexer import lower_thread_priority

    seen: list[int] = []

    def work() -> None:
        lower_thread_priority(5)
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen == [min(19, before + 5)]
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux's")
def test_idle_priority_changes_only_the_calling_thread():
    from storage.vector_indexer import lower_thread_priority

    seen: list[int] = []

    def work() -> None:
        lower_thread_priority(5, idle=True)
        seen.append(os.sched_getscheduler(0))

    before = os.sched_getscheduler(0)
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen == [os.SCHED_IDLE]
    assert os.sched_getscheduler(0) == before != os.SCHED_IDLE
