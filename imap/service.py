"""Starting the IMAP server: in an asyncio loop, in a thread, or as a Ray actor.

The platform calls :func:`start_imap`, which starts the server inside an
async Ray actor bound to ``config.imap.host:port`` and returns
:class:`ImapHandles`; its ``delivery`` is the hook the pipeline's store
stage calls with ``list[StoredMessage]``. Tests and tools that need no
Ray use :class:`LocalImap`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from cluster.config import Config
from imap.context import ServerContext
from imap.delivery import Delivery
from imap.feedback_table import FeedbackPump, FeedbackTable
from imap.hub import MailboxHub
from imap.login_guard import LoginGuard
from imap.metadata import DeliveryRecord
from imap.objects import RawObjects
from imap.server import ImapListener
from imap.sqlite_store import SqliteStore
from imap.users import seed_users
from ingest.types import StoredMessage
from storage.root import StorageRoot

log = logging.getLogger("mailray.imap")


class ImapServer:
    """The server inside one event loop; create, ``await start()``, use."""

    def __init__(self, config: Config, root: StorageRoot) -> None:
        imap = config.imap
        self.config = config
        self.root = root
        self.store = SqliteStore(imap.metadata_path)
        self.objects = RawObjects(root)
        self.delivery = Delivery(self.store, self.objects)
        self.pump = FeedbackPump(
            FeedbackTable(root), self.store, interval_s=imap.feedback_flush_interval_s
        )
        self.ctx = ServerContext(
            config=imap,
            store=self.store,
            objects=self.objects,
            hub=MailboxHub(),
            guard=LoginGuard(
                max_failures=imap.max_failed_logins,
                window_s=imap.login_lockout_s,
                base_delay_s=imap.login_failure_delay_s,
            ),
        )
        self.listener = ImapListener(self.ctx, imap.host, imap.port)

    @property
    def port(self) -> int:
        return self.listener.port

    @property
    def idle_sessions(self) -> int:
        return self.ctx.idle_sessions

    async def start(self) -> int:
        await self.ctx.db(seed_users, self.store, self.config.users)
        self.pump.start()
        return await self.listener.start()

    async def deliver(self, messages: Sequence[StoredMessage]) -> list[DeliveryRecord]:
        """Deliver a stored batch and wake the sessions watching its mailboxes."""
        records = await self.ctx.db(self.delivery.deliver, list(messages))
        touched = {r.mailbox_id for r in records if r.mailbox_id and not r.duplicate}
        self.ctx.hub.notify(*touched)
        return records

    async def stop(self) -> None:
        await self.listener.stop()
        await asyncio.get_running_loop().run_in_executor(None, self.pump.stop)
        self.ctx.shutdown()


class LocalImap:
    """An :class:`ImapServer` on its own event loop thread, without Ray."""

    def __init__(self, config: Config, root: StorageRoot) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="mailray-imap", daemon=True
        )
        self._thread.start()
        self.server: ImapServer = self._call(self._build(config, root))

    @staticmethod
    async def _build(config: Config, root: StorageRoot) -> ImapServer:
        return ImapServer(config, root)

    def _call(self, coroutine: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result()

    def start(self) -> int:
        return self._call(self.server.start())

    @property
    def port(self) -> int:
        return self.server.port

    def deliver(self, messages: Sequence[StoredMessage]) -> list[DeliveryRecord]:
        return self._call(self.server.deliver(messages))

    def stop(self) -> None:
        try:
            self._call(self.server.stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()

    def __enter__(self) -> LocalImap:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ImapActor:
    """The Ray actor body: one :class:`ImapServer` on the actor's event loop."""

    def __init__(self, config: Config, root: StorageRoot) -> None:
        self.server = ImapServer(config, root)

    async def start(self) -> int:
        return await self.server.start()

    async def deliver(self, messages: list[StoredMessage]) -> list[DeliveryRecord]:
        return await self.server.deliver(messages)

    async def stop(self) -> None:
        await self.server.stop()


@dataclass(frozen=True)
class DeliveryHook:
    """What the store stage calls; picklable, so it can travel to a stage actor."""

    actor: Any

    def __call__(self, messages: Sequence[StoredMessage]) -> list[DeliveryRecord]:
        import ray

        return ray.get(self.actor.deliver.remote(list(messages)))

    async def deliver(self, messages: Sequence[StoredMessage]) -> list[DeliveryRecord]:
        return await self.actor.deliver.remote(list(messages))


@dataclass(frozen=True)
class ImapHandles:
    actor: Any
    host: str
    port: int
    delivery: DeliveryHook


def start_imap(
    config: Config,
    root: StorageRoot,
    num_cpus: float = 0.25,
    name: str = "mailray-imap",
    actor_options: dict[str, Any] | None = None,
) -> ImapHandles:
    """Start the IMAP actor and return its handle, address and delivery hook.

    The actor keeps the SQLite metadata file on its node's local disk, so
    there is one per cluster; pin it to a node with ``actor_options``
    (for example ``{"resources": {...}}``). The metadata path is made
    absolute here, as the actor's working directory is Ray's, not ours.
    """
    import ray

    imap = config.imap.model_copy(
        update={"metadata_path": os.path.abspath(config.imap.metadata_path)}
    )
    config = config.model_copy(update={"imap": imap})
    # TODO(#4): several IMAP actors need a shared metadata store and a
    # cross-actor change feed before they can share the port.
    remote_cls = ray.remote(num_cpus=num_cpus, max_concurrency=1000)(ImapActor)
    actor = remote_cls.options(name=name, **(actor_options or {})).remote(config, root)
    port = ray.get(actor.start.remote())
    log.info("IMAP actor serving on %s:%d", config.imap.host, port)
    return ImapHandles(
        actor=actor, host=config.imap.host, port=port, delivery=DeliveryHook(actor)
    )
