"""What every session of one server shares."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from cluster.config import ImapConfig
from imap.hub import MailboxHub
from imap.login_guard import LoginGuard
from imap.metadata import MetadataStore
from imap.objects import RawObjects

T = TypeVar("T")

CAPABILITIES = (
    "IMAP4rev1",
    "LITERAL+",
    "SASL-IR",
    "AUTH=PLAIN",
    "UIDPLUS",
    "MOVE",
    "IDLE",
    "NAMESPACE",
    "SPECIAL-USE",
    "ENABLE",
    "ID",
    "UNSELECT",
)


@dataclass
class ServerContext:
    """Configuration, stores and thread pools of one server.

    Metadata calls run on one dedicated thread (one SQLite connection, in
    order); reading message bytes and searching run on a small pool; the
    event loop only formats and writes.
    """

    config: ImapConfig
    store: MetadataStore
    objects: RawObjects
    hub: MailboxHub
    guard: LoginGuard
    idle_sessions: int = 0
    """Sessions in IDLE right now."""
    _db_pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="imap-db")
    )
    _io_pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(4, thread_name_prefix="imap-io")
    )

    async def db(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._db_pool, functools.partial(fn, *args, **kwargs)
        )

    async def io(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._io_pool, functools.partial(fn, *args, **kwargs)
        )

    def shutdown(self) -> None:
        self._db_pool.shutdown(wait=True)
        self._io_pool.shutdown(wait=True)
