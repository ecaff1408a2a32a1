"""IDLE (RFC 2177): push mailbox changes until the client says DONE."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from imap.errors import ProtocolError
from imap.parser import Command, arity

if TYPE_CHECKING:
    from imap.session import Session


async def idle(session: Session, cmd: Command) -> str:
    arity(cmd, 0)
    session.conn.write(b"+ idling\r\n")
    # The continuation goes out on its own: some clients (getmail) read it
    # through a buffer and then wait on the socket, missing an update that
    # arrived in the same read.
    await session.conn.drain()
    if session.selected is not None:
        await session.sync(allow_expunge=True)
        await session.conn.drain()

    session.ctx.idle_sessions += 1
    done = asyncio.ensure_future(session.conn.read_line())
    try:
        while True:
            sel = session.selected
            waits: set[asyncio.Future] = {done}
            changed = None
            if sel is not None:
                changed = asyncio.ensure_future(sel.event.wait())
                waits.add(changed)
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                if changed is not None and not changed.done():
                    changed.cancel()
            if sel is not None and sel.event.is_set():
                sel.event.clear()
                await session.sync(allow_expunge=True)
                await session.conn.drain()
            if done.done():
                line = done.result()
                break
    finally:
        session.ctx.idle_sessions -= 1
        if not done.done():
            done.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await done

    if line.strip().upper() != b"DONE":
        raise ProtocolError("expected DONE to end IDLE")
    return "OK IDLE terminated"
