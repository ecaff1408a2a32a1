"""Bounded Ray queues between stages, used in batches.

A single put on a Ray queue costs a round trip to its actor (~740/s here);
batches of 100 reach ~40,000/s, so every producer and consumer here moves
lists. The queues are named actors so ``mailray status`` can read depths.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

from ray.util.queue import Empty, Full, Queue

NAMESPACE = "mailray"
QUEUE_NAMES = ("parse", "classify", "store")


def actor_name(queue_name: str) -> str:
    return f"mailray.queue.{queue_name}"


def make_queue(queue_name: str, max_items: int, num_cpus: float = 0.05) -> Queue:
    """A bounded, named queue actor that is restarted if it dies."""
    return Queue(
        maxsize=max_items,
        actor_options={
            "name": actor_name(queue_name),
            "num_cpus": num_cpus,
            "max_restarts": -1,
        },
    )


async def put_prefix(queue: Queue, items: Sequence[Any]) -> int:
    """Put as many of ``items`` as fit, in order; returns how many went in."""
    if not items:
        return 0
    try:
        await queue.actor.put_nowait_batch.remote(list(items))
        return len(items)
    except Full:
        pass
    room = queue.maxsize - await queue.actor.qsize.remote()
    if room <= 0:
        return 0
    try:
        await queue.actor.put_nowait_batch.remote(list(items[:room]))
    except Full:
        return 0
    return min(room, len(items))


async def put_all(queue: Queue, items: Sequence[Any], poll_s: float = 0.05) -> None:
    """Put every item, waiting for room: a stage's back-pressure upstream."""
    pending = list(items)
    while pending:
        accepted = await put_prefix(queue, pending)
        pending = pending[accepted:]
        if pending:
            await asyncio.sleep(poll_s)


async def take(queue: Queue, max_items: int, wait_s: float) -> list[Any]:
    """Up to ``max_items`` items, waiting at most ``wait_s`` for the first."""
    try:
        first = await queue.actor.get.remote(wait_s)
    except Empty:
        return []
    batch = [first]
    want = min(max_items - 1, await queue.actor.qsize.remote())
    if want > 0:
        # Another consumer may take them between qsize and the get.
        with contextlib.suppress(Empty):
            batch.extend(await queue.actor.get_nowait_batch.remote(want))
    return batch


async def depth(queue: Queue) -> int:
    return int(await queue.actor.qsize.remote())


# Queue actors by name, looked up once per process: a lookup is a blocking
# call to the GCS, and callers poll (the spool sweep, the vector indexer).
_by_name: dict[str, Any] = {}


async def backlog(names: Sequence[str] = QUEUE_NAMES) -> int:
    """Items waiting in the named stage queues."""
    import ray

    try:
        handles = [
            _by_name.get(n) or _by_name.setdefault(n, ray.get_actor(actor_name(n)))
            for n in names
        ]
        return sum(await asyncio.gather(*(h.qsize.remote() for h in handles)))
    except Exception:
        for name in names:  # gone or replaced: look them up again next time
            _by_name.pop(name, None)
        raise
