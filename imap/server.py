"""The asyncio TCP server and the wire reader of one connection.

The reader collects one whole command, literals included: it answers a
synchronising literal with a continuation, takes LITERAL+ literals as
they come, enforces ``max_literal_bytes`` (discarding an oversized
non-synchronising literal so the stream stays in step) and puts a timeout
on every read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from imap.context import ServerContext
from imap.errors import LiteralTooLarge, ProtocolError
from imap.parser import literal_at_end, parse_tag
from imap.session import Session

log = logging.getLogger("mailray.imap")

MAX_LINE_BYTES = 64 * 1024
_DISCARD_CHUNK_BYTES = 256 * 1024


class StreamConnection:
    """:class:`imap.session.Connection` over asyncio streams."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        max_literal_bytes: int,
        read_timeout_s: float,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self.max_literal_bytes = max_literal_bytes
        self.read_timeout_s = read_timeout_s
        peer = writer.get_extra_info("peername")
        self.peer_host = str(peer[0]) if peer else "?"

    async def quiet_for(self, seconds: float) -> bool:
        """True when the client sent nothing for ``seconds`` (greet pause)."""
        try:
            await asyncio.wait_for(self._reader.read(1), seconds)
        except TimeoutError:
            return True
        return False

    async def read_line(self) -> bytes:
        """One line, CRLF included; ``b""`` at end of stream."""
        try:
            return await asyncio.wait_for(
                self._reader.readuntil(b"\n"), self.read_timeout_s
            )
        except asyncio.IncompleteReadError as exc:
            return exc.partial if exc.partial.endswith(b"\n") else b""
        except asyncio.LimitOverrunError:
            await self._discard_line()
            raise ProtocolError(f"line longer than {MAX_LINE_BYTES} bytes") from None

    async def _discard_line(self) -> None:
        while True:
            try:
                await asyncio.wait_for(
                    self._reader.readuntil(b"\n"), self.read_timeout_s
                )
                return
            except asyncio.LimitOverrunError as exc:
                await self._reader.readexactly(exc.consumed)

    async def _read_exactly(self, size: int) -> bytes:
        return await asyncio.wait_for(
            self._reader.readexactly(size), self.read_timeout_s
        )

    async def read_command(self) -> bytes:
        line = await self.read_line()
        if not line:
            return b""
        parts = [line]
        too_large: LiteralTooLarge | None = None
        while True:
            announced = literal_at_end(line)
            if announced is None:
                break
            if announced.size > self.max_literal_bytes:
                too_large = LiteralTooLarge(
                    announced.size, self.max_literal_bytes, parse_tag(parts[0])
                )
                if announced.synchronizing:
                    # The client waits for a continuation it will not get.
                    raise too_large
                await self._discard(announced.size)
            else:
                if announced.synchronizing:
                    self._writer.write(b"+ Ready for literal data\r\n")
                    await self._writer.drain()
                parts.append(await self._read_exactly(announced.size))
            line = await self.read_line()
            if not line:
                return b""
            parts.append(line)
        if too_large is not None:
            raise too_large
        return b"".join(parts)

    async def _discard(self, size: int) -> None:
        left = size
        while left > 0:
            chunk = await self._read_exactly(min(left, _DISCARD_CHUNK_BYTES))
            left -= len(chunk)

    def write(self, data: bytes) -> None:
        self._writer.write(data)

    async def drain(self) -> None:
        await self._writer.drain()

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.wait_closed()


class ImapListener:
    """Accepts connections on host:port and runs a session for each."""

    def __init__(self, ctx: ServerContext, host: str, port: int) -> None:
        self.ctx = ctx
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._sessions: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(
            self._serve, self.host, self.port, limit=MAX_LINE_BYTES
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("IMAP listening on %s:%d", self.host, self.port)
        return self.port

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        conn = StreamConnection(
            reader,
            writer,
            self.ctx.config.max_literal_bytes,
            self.ctx.config.idle_timeout_s,
        )
        task = asyncio.current_task()
        if task is not None:
            self._sessions.add(task)
        try:
            await Session(self.ctx, conn).run()
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            log.debug("%s connection lost: %s", conn.peer_host, exc)
        except asyncio.CancelledError:
            # The listener is stopping. This is the connection's own task, so
            # the cancellation ends here: re-raised, asyncio's stream callback
            # (Python 3.11) would log it as an unhandled error.
            log.debug("%s session closed by shutdown", conn.peer_host)
        except Exception:
            log.exception("%s session crashed", conn.peer_host)
        finally:
            if task is not None:
                self._sessions.discard(task)
            await conn.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._sessions):
            task.cancel()
        if self._sessions:
            await asyncio.gather(*self._sessions, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
