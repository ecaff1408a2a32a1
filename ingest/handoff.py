"""Hand accepted messages to the parse queue in batches.

Each SMTP session waits on its own future while one flusher moves whatever
has gathered to the queue in a single call; what does not fit fails with
:class:`QueueFull`, and SMTP answers 451 for exactly those messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ingest.errors import QueueFull

log = logging.getLogger("mailray.ingest")

# Puts a prefix of the items and returns how many it put.
PutPrefixFn = Callable[[Sequence[Any]], Awaitable[int]]


class BatchedHandoff:
    def __init__(
        self, put_prefix: PutPrefixFn, queue_name: str, max_batch: int = 200
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self._put_prefix = put_prefix
        self._queue_name = queue_name
        self._max_batch = max_batch
        self._pending: list[tuple[Any, asyncio.Future[None]]] = []
        self._wakeup = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, item: Any) -> None:
        """Returns once ``item`` is on the queue; raises QueueFull otherwise."""
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_forever())
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        self._wakeup.set()
        await future

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        for _, future in self._pending:
            if not future.done():
                future.set_exception(QueueFull(self._queue_name, -1))
        self._pending.clear()

    async def _flush_forever(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                await self._flush(batch)

    async def _flush(self, batch: list[tuple[Any, asyncio.Future[None]]]) -> None:
        try:
            accepted = await self._put_prefix([item for item, _ in batch])
        except Exception as exc:
            # The queue actor is unreachable: nothing of this batch is on it.
            log.error("handoff to %s failed: %r", self._queue_name, exc)
            accepted = 0
        for index, (_, future) in enumerate(batch):
            if future.done():
                continue
            if index < accepted:
                future.set_result(None)
            else:
                future.set_exception(QueueFull(self._queue_name, -1))
