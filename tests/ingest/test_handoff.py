"""Group commit without Ray: batching, prefixes, and how failures reach waiters."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from ingest.errors import QueueFull, SpoolError
from ingest.handoff import GroupCommit


def _full() -> QueueFull:
    return QueueFull("parse", -1)


async def test_sessions_waiting_together_share_one_batch():
    batches: list[list[int]] = []

    async def take(items: Sequence[int]) -> int:
        batches.append(list(items))
        await asyncio.sleep(0.01)
        return len(items)

    group = GroupCommit(take, reject=_full)
    await asyncio.gather(*(group.submit(i) for i in range(10)))
    await group.close()

    assert sorted(i for batch in batches for i in batch) == list(range(10))
    assert len(batches) == group.batches < 10


async def test_items_past_the_taken_prefix_are_rejected():
    async def take_two(items: Sequence[int]) -> int:
        return 2

    group = GroupCommit(take_two, reject=_full)
    results = await asyncio.gather(
        *(group.submit(i) for i in range(4)), return_exceptions=True
    )
    await group.close()

    assert results[:2] == [None, None]
    assert all(isinstance(r, QueueFull) for r in results[2:])


async def test_ingest_error_of_a_batch_reaches_every_waiter():
    async def fail(items: Sequence[int]) -> int:
        raise SpoolError("-", "disk full")

    group = GroupCommit(fail, reject=_full)
    results = await asyncio.gather(
        *(group.submit(i) for i in range(3)), return_exceptions=True
    )
    await group.close()

    assert all(isinstance(r, SpoolError) for r in results)
    assert len({id(r) for r in results}) == 3


async def test_unexpected_error_of_a_batch_rejects_it(caplog):
    async def broken(items: Sequence[int]) -> int:
        raise RuntimeError("queue actor died")

    group = GroupCommit(broken, reject=_full)
    with pytest.raises(QueueFull):
        await group.submit(1)
    await group.close()
    assert "queue actor died" in caplog.text


async def test_cancelled_item_not_yet_batched_is_never_taken():
    taken: list[int] = []
    release = asyncio.Event()

    async def slow(items: Sequence[int]) -> int:
        taken.extend(items)
        await release.wait()
        return len(items)

    group = GroupCommit(slow, reject=_full)
    first = asyncio.create_task(group.submit(1))
    await asyncio.sleep(0)  # the flusher takes 1 and waits
    second = asyncio.create_task(group.submit(2))
    await asyncio.sleep(0)
    second.cancel()
    release.set()
    await first
    await asyncio.sleep(0.01)
    await group.close()

    assert second.cancelled()
    assert taken == [1]
