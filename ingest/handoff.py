"""Group commit: many SMTP sessions, one batched call.

Each SMTP session waits on its own future while one flusher hands whatever
has gathered to a batch function in a single call (for the ingest actor:
one fdatasync and one queue put for many messages). The batch function
returns how many items (a prefix) it took; the rest fail with the
exception ``reject`` makes, and SMTP answers 451 for exactly those. An
:class:`~ingest.errors.IngestError` it raises fails the whole batch with
that error; anything else is logged and fails it like ``reject``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ingest.errors import IngestError

log = logging.getLogger("mailray.ingest")

# Takes a prefix of the items and returns how many it took.
BatchFn = Callable[[Sequence[Any]], Awaitable[int]]


class GroupCommit:
    def __init__(
        self,
        batch_fn: BatchFn,
        reject: Callable[[], Exception],
        max_batch: int = 200,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self._batch_fn = batch_fn
        self._reject = reject
        self._max_batch = max_batch
        self._pending: list[tuple[Any, asyncio.Future[None]]] = []
        self._wakeup = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self.batches = 0
        """Calls made to ``batch_fn`` so far."""

    async def submit(self, item: Any) -> None:
        """Returns once ``item`` was taken; raises the batch's IngestError or
        ``reject()`` otherwise."""
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_forever())
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        self._wakeup.set()
        try:
            await future
        except asyncio.CancelledError:
            # Not handed to a batch yet: withdraw it, so it is never taken.
            self._pending = [entry for entry in self._pending if entry[1] is not future]
            raise

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        for _, future in self._pending:
            if not future.done():
                future.set_exception(self._reject())
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
        self.batches += 1
        failure: IngestError | None = None
        try:
            accepted = await self._batch_fn([item for item, _ in batch])
        except IngestError as exc:
            failure, accepted = exc, 0
        except Exception as exc:
            log.error("batch of %d failed: %r", len(batch), exc)
            accepted = 0
        for index, (_, future) in enumerate(batch):
            if future.done():
                continue
            if index < accepted:
                future.set_result(None)
            else:
                # A copy each: every waiter adds its own traceback.
                future.set_exception(copy.copy(failure) or self._reject())
