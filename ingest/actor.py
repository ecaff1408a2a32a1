"""The SMTP ingest actor: aiosmtpd on an async Ray actor's event loop.

On DATA the message joins a group (see :mod:`ingest.handoff`): the group
is appended to the spool with one fdatasync, then put on the parse queue
in one call, and only then does each message get its 250. A failed spool
write answers 451 for the whole group; a full queue answers 451 for what
did not fit and drops those spooled copies, so no 250 is ever followed by
a loss. The first actor also re-enqueues what an earlier run spooled but
did not finish, and keeps sweeping the spool for messages a crashed stage
may have dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ray.util.queue import Queue

from cluster.config import Config
from ingest import policy, queues
from ingest.errors import QueueFull, SpoolError
from ingest.handoff import GroupCommit
from ingest.smtp import IngestHandler, build_received, make_protocol
from ingest.spool import Spool
from ingest.types import ReceivedMessage

log = logging.getLogger("mailray.ingest")

RECOVER_BATCH = 100
SUMMARY_INTERVAL_S = 60.0
"""How often the actor logs how many messages it accepted."""


@dataclass(frozen=True, slots=True)
class _Summary:
    """The counts at the last summary line."""

    since: float
    accepted: int = 0
    refused_busy: int = 0


class IngestActor:
    """One SMTP listener; several share a port with SO_REUSEPORT."""

    def __init__(self, config: Config, parse_queue: Queue, index: int = 0) -> None:
        self._config = config
        self._queue = parse_queue
        self._index = index
        self._spool = Spool(config.smtp.spool_dir)
        self._intake: GroupCommit | None = None
        self._server: asyncio.base_events.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._store_ok = True
        self._counts = {"accepted": 0, "refused_busy": 0, "recovered": 0}
        self._summary = _Summary(time.monotonic())

    async def start(self, port: int | None = None) -> tuple[str, int]:
        """Bind and serve (on ``port`` instead of ``smtp.port`` if given, so
        actors after the first share a port picked with ``smtp.port = 0``);
        returns the bound address."""
        smtp = self._config.smtp
        addresses = [a for user in self._config.users for a in user.addresses]
        handler = IngestHandler(
            policy.RecipientPolicy.build(smtp.domains, addresses),
            build_received(smtp.hostname),
            self.accept,
        )
        factory = make_protocol(
            handler,
            hostname=smtp.hostname,
            max_message_bytes=smtp.max_message_bytes,
            read_timeout_s=smtp.read_timeout_s,
        )
        self._intake = GroupCommit(
            self._take_group, reject=lambda: QueueFull("parse", -1)
        )

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            factory,
            host=smtp.host,
            port=smtp.port if port is None else port,
            reuse_port=smtp.actors > 1,
            family=socket.AF_INET,
        )
        host, port = self._server.sockets[0].getsockname()[:2]
        log.info("smtp actor %d listening on %s:%d", self._index, host, port)
        return host, port

    async def recover(self, sweep_interval_s: float | None = None) -> int:
        """Re-enqueue spooled messages; optionally keep sweeping stale ones."""
        await asyncio.to_thread(self._spool.remove_partial)
        imported = await asyncio.to_thread(self._spool.import_legacy)
        if imported:
            log.info("imported %d messages spooled one file each", imported)
        count = await self._enqueue_spooled(older_than_s=0.0)
        if sweep_interval_s:
            self._sweeper = asyncio.create_task(self._sweep_forever(sweep_interval_s))
        return count

    async def run(self, port: int | None = None) -> None:
        """Serve until stopped; the platform re-issues it after a restart,
        when the actor comes back without a listener (on ``port`` again)."""
        if self._server is None:
            await self.start(port)
            if self._index == 0:
                await self.recover(self._config.pipeline.sweep_interval_s)
        assert self._server is not None
        with contextlib.suppress(asyncio.CancelledError):
            await self._server.serve_forever()

    async def set_store_ok(self, ok: bool) -> None:
        """The store stage's health; while down, DATA answers 451 4.3.0."""
        self._store_ok = ok

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if self._intake is not None:
            await self._intake.close()
        await asyncio.to_thread(self._spool.close)

    async def stats(self) -> dict[str, Any]:
        groups = self._intake.batches if self._intake is not None else 0
        return {"actor": self._index, **self._counts, "groups": groups}

    async def accept(self, message: ReceivedMessage) -> str:
        """Spool, enqueue, reply: the only path to a 250."""
        if not self._store_ok:
            return policy.STORE_DOWN
        assert self._intake is not None
        try:
            await self._intake.submit(message)
        except SpoolError as exc:
            log.error("%s %s", message.queue_id, exc)
            return policy.SPOOL_FAILED
        except QueueFull as exc:
            self._counts["refused_busy"] += 1
            log.warning("%s refused: %s", message.queue_id, exc)
            return policy.QUEUE_FULL
        except asyncio.CancelledError:
            # The client is gone before its 250: keep nothing of it.
            await asyncio.to_thread(self._spool.discard, [message.queue_id])
            raise

        self._counts["accepted"] += 1
        log.debug(
            "%s accepted from %s: %d bytes for %d recipients",
            message.queue_id,
            message.peer,
            len(message.raw),
            len(message.rcpt_tos),
        )
        self._log_summary()
        return f"250 2.0.0 Ok: queued as {message.queue_id}"

    async def _take_group(self, messages: Sequence[ReceivedMessage]) -> int:
        """Spool a group (one thread hop, one fdatasync), then put it on the
        parse queue (one call); returns how many may have their 250."""
        await asyncio.to_thread(self._spool.write_many, list(messages))
        try:
            taken = await queues.put_prefix(self._queue, messages)
        except Exception as exc:  # a dead queue actor: answer 451, keep nothing
            log.error("parse queue put failed: %r", exc)
            taken = 0
        if taken < len(messages):
            # Never acknowledged, so never kept: the clients will retry.
            refused = [message.queue_id for message in messages[taken:]]
            await asyncio.to_thread(self._spool.discard, refused)
        return taken

    def _log_summary(self) -> None:
        now = time.monotonic()
        if now - self._summary.since < SUMMARY_INTERVAL_S:
            return
        accepted = self._counts["accepted"] - self._summary.accepted
        refused = self._counts["refused_busy"] - self._summary.refused_busy
        log.info(
            "smtp actor %d: %d accepted, %d refused busy in the last %.0fs",
            self._index,
            accepted,
            refused,
            now - self._summary.since,
        )
        self._summary = _Summary(
            now, self._counts["accepted"], self._counts["refused_busy"]
        )

    async def _enqueue_spooled(self, older_than_s: float) -> int:
        queue_ids = await asyncio.to_thread(
            lambda: list(self._spool.pending(older_than_s))
        )
        total = 0
        for start in range(0, len(queue_ids), RECOVER_BATCH):
            chunk = queue_ids[start : start + RECOVER_BATCH]
            messages = await asyncio.to_thread(self._read_spooled, chunk)
            await queues.put_all(self._queue, messages)
            await asyncio.to_thread(self._spool.touch, [m.queue_id for m in messages])
            total += len(messages)
        if total:
            log.info("re-enqueued %d spooled messages", total)
        self._counts["recovered"] += total
        return total

    def _read_spooled(self, queue_ids: list[str]) -> list[ReceivedMessage]:
        messages = []
        for queue_id in queue_ids:
            try:
                messages.append(self._spool.read(queue_id))
            except SpoolError as exc:
                # Completed by the store stage while we listed: fine.
                log.debug("%s", exc)
        return messages

    async def _sweep_forever(self, interval_s: float) -> None:
        # A stage that crashed loses its in-memory batch; the spool still has
        # it. Re-enqueueing is safe because the store stage skips duplicates.
        # Only with the queues empty, though: behind a backlog an old file is
        # still on its way, and sending it again would only add to the work.
        redeliver_after_s = self._config.pipeline.redeliver_after_s
        while True:
            await asyncio.sleep(interval_s)
            try:
                if await queues.backlog() == 0:
                    await self._enqueue_spooled(older_than_s=redeliver_after_s)
            except Exception as exc:
                log.error("spool sweep failed: %r", exc)
