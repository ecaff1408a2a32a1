"""A loopback SMTP server with the real handler and spool, without Ray."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from ingest import policy
from ingest.smtp import IngestHandler, build_received, make_protocol
from ingest.spool import Spool
from ingest.types import ReceivedMessage


@dataclass
class LoopbackSmtp:
    port: int
    spool: Spool
    accepted: list[ReceivedMessage] = field(default_factory=list)
    reply_override: str | None = None


@pytest.fixture
async def smtp_server(tmp_path) -> AsyncIterator[LoopbackSmtp]:
    spool = Spool(tmp_path / "spool")
    state = LoopbackSmtp(port=0, spool=spool)

    async def accept(message: ReceivedMessage) -> str:
        if state.reply_override:
            return state.reply_override
        await asyncio.to_thread(spool.write, message)
        state.accepted.append(message)
        return f"250 2.0.0 Ok: queued as {message.queue_id}"

    handler = IngestHandler(
        policy.RecipientPolicy.build(["example.com"], ["test@example.com"]),
        build_received("mx.test"),
        accept,
    )
    factory = make_protocol(
        handler, hostname="mx.test", max_message_bytes=4096, read_timeout_s=5.0
    )
    server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    yield state
    server.close()
    await server.wait_closed()
