"""One client connection: its state, its view of the selected mailbox, and
the loop that reads commands and answers them in order.

Commands live in the ``cmd_*`` modules; this module only dispatches them,
maps errors to tagged NO/BAD replies, and sends the untagged EXISTS,
EXPUNGE and FETCH updates RFC 3501 (7.4.1, 5.2) asks for when other
sessions or deliveries change the selected mailbox.
"""

from __future__ import annotations

import asyncio
import logging
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from imap import wire
from imap.context import CAPABILITIES, ServerContext
from imap.errors import CommandFailed, LiteralTooLarge, ProtocolError
from imap.fetch import flags_list
from imap.metadata import MailboxRecord, UserRecord
from imap.parser import Command, parse_command, parse_tag
from imap.sequence import SequenceSet

if TYPE_CHECKING:
    from imap.dispatch import Handler

log = logging.getLogger("mailray.imap")

NOT_AUTHENTICATED = "not authenticated"
AUTHENTICATED = "authenticated"
SELECTED = "selected"
LOGOUT = "logout"

# Commands during which an EXPUNGE response must not be sent (RFC 3501 7.4.1).
_NO_EXPUNGE_DURING = frozenset({"FETCH", "STORE", "SEARCH"})


class Connection(Protocol):
    peer_host: str

    async def quiet_for(self, seconds: float) -> bool: ...
    async def read_command(self) -> bytes: ...
    async def read_line(self) -> bytes: ...
    def write(self, data: bytes) -> None: ...
    async def drain(self) -> None: ...


@dataclass
class Selected:
    """The session's snapshot of the selected mailbox."""

    mailbox: MailboxRecord
    read_only: bool
    uids: list[int]
    flags: dict[int, tuple[str, ...]]
    recent: set[int]
    modseq: int
    event: asyncio.Event
    pending_expunge: bool = field(default=False)

    def seq_of(self, uid: int) -> int | None:
        index = bisect_left(self.uids, uid)
        if index < len(self.uids) and self.uids[index] == uid:
            return index + 1
        return None

    def resolve(self, text: str, by_uid: bool) -> list[tuple[int, int]]:
        """(sequence number, uid) pairs a sequence set names."""
        numbers = SequenceSet.parse(text)
        if by_uid:
            return [(self.seq_of(uid) or 0, uid) for uid in numbers.uids(self.uids)]
        seqs = numbers.seqs(len(self.uids))
        if not seqs and self.uids:
            raise CommandFailed("no such message")
        return [(seq, self.uids[seq - 1]) for seq in seqs]


class Session:
    def __init__(self, ctx: ServerContext, conn: Connection) -> None:
        self.ctx = ctx
        self.conn = conn
        self.state = NOT_AUTHENTICATED
        self.user: UserRecord | None = None
        self.selected: Selected | None = None

    # Output.

    def untagged(self, text: str | bytes) -> None:
        data = text.encode() if isinstance(text, str) else text
        self.conn.write(b"* " + data + b"\r\n")

    def capability_text(self) -> str:
        return " ".join(CAPABILITIES)

    # The command loop.

    async def run(self) -> None:
        pause_s = self.ctx.config.greeting_delay_s
        if pause_s > 0 and not await self.conn.quiet_for(pause_s):
            log.info("%s spoke before the greeting; dropped", self.conn.peer_host)
            self.untagged("BYE you spoke before the greeting")
            await self.conn.drain()
            return
        self.untagged(f"OK [CAPABILITY {self.capability_text()}] mailray IMAP ready")
        await self.conn.drain()
        try:
            while self.state != LOGOUT:
                if not await self._one_command():
                    break
        except TimeoutError:
            self.untagged("BYE Autologout; idle for too long")
            await self.conn.drain()
        finally:
            self.unselect()

    async def _one_command(self) -> bool:
        try:
            data = await self.conn.read_command()
        except LiteralTooLarge as exc:
            tag = exc.tag or "*"
            self.conn.write(f"{tag} NO [TOOBIG] {exc.reason}\r\n".encode())
            await self.conn.drain()
            return True
        except ProtocolError as exc:
            self.conn.write(f"* BAD {exc.reason}\r\n".encode())
            await self.conn.drain()
            return True
        if not data:
            return False

        try:
            cmd = parse_command(data)
        except ProtocolError as exc:
            tag = parse_tag(data) or "*"
            self.conn.write(f"{tag} BAD {exc.reason}\r\n".encode())
            await self.conn.drain()
            return True
        await self.execute(cmd)
        await self.conn.drain()
        return True

    async def execute(self, cmd: Command) -> None:
        from imap.dispatch import COMMANDS

        entry: Handler | None = COMMANDS.get(cmd.name)
        if entry is None:
            self._reply(cmd.tag, "BAD", None, f"unknown command {cmd.name}")
            return
        if self.state not in entry.states:
            self._reply(cmd.tag, "NO", None, f"{cmd.name} not allowed {self.state}")
            return
        if cmd.name not in ("LOGIN", "AUTHENTICATE"):
            log.debug("%s %s %s", self._who(), cmd.tag, cmd.name)

        try:
            text = await entry.handler(self, cmd)
            if self.selected is not None and entry.sync:
                expunge_ok = cmd.uid or cmd.name not in _NO_EXPUNGE_DURING
                await self.sync(allow_expunge=expunge_ok)
        except ProtocolError as exc:
            self._reply(cmd.tag, "BAD", exc.code, exc.reason)
        except CommandFailed as exc:
            self._reply(cmd.tag, "NO", exc.code, exc.reason)
        except (TimeoutError, ConnectionError, asyncio.CancelledError):
            raise
        except Exception:
            log.exception("%s %s %s failed", self._who(), cmd.tag, cmd.name)
            self._reply(cmd.tag, "NO", "SERVERBUG", f"{cmd.name} failed on the server")
        else:
            if text is not None:
                self.conn.write(f"{cmd.tag} {text}\r\n".encode())

    def _reply(self, tag: str, status: str, code: str | None, text: str) -> None:
        code_text = f"[{code}] " if code else ""
        line = f"{tag} {status} {code_text}{text}".replace("\r", " ").replace("\n", " ")
        self.conn.write(line.encode("utf-8", "replace") + b"\r\n")

    def _who(self) -> str:
        name = self.user.name if self.user else "-"
        return f"{self.conn.peer_host} {name}"

    # The selected mailbox.

    async def select(self, mailbox: MailboxRecord, read_only: bool) -> Selected:
        self.unselect()
        view = await self.ctx.db(self.ctx.store.view, mailbox.id)
        if read_only:
            first_recent = view.first_recent_uid
        else:
            first_recent = await self.ctx.db(self.ctx.store.claim_recent, mailbox.id)
        uids = list(view.uids)
        self.selected = Selected(
            mailbox=mailbox,
            read_only=read_only,
            uids=uids,
            flags=dict(zip(uids, view.flags, strict=True)),
            recent={uid for uid in uids if uid >= first_recent},
            modseq=view.modseq,
            event=self.ctx.hub.watch(mailbox.id),
        )
        self.state = SELECTED
        return self.selected

    def unselect(self) -> None:
        if self.selected is not None:
            self.ctx.hub.unwatch(self.selected.mailbox.id, self.selected.event)
            self.selected = None
        if self.state == SELECTED:
            self.state = AUTHENTICATED

    def send_expunges(self, uids: list[int]) -> None:
        """EXPUNGE responses for ``uids``, highest number first."""
        sel = self.selected
        if sel is None or not uids:
            return
        gone = set(uids)
        seqs = [i + 1 for i, uid in enumerate(sel.uids) if uid in gone]
        for seq in reversed(seqs):
            self.untagged(f"{seq} EXPUNGE")
        sel.uids = [uid for uid in sel.uids if uid not in gone]
        for uid in gone:
            sel.flags.pop(uid, None)
            sel.recent.discard(uid)

    async def sync(self, allow_expunge: bool) -> None:
        """Tell the client what changed in the selected mailbox."""
        sel = self.selected
        if sel is None:
            return
        modseq = await self.ctx.db(self.ctx.store.modseq, sel.mailbox.id)
        if modseq == sel.modseq and not (allow_expunge and sel.pending_expunge):
            return
        if modseq < 0:
            # Deleted under us; nothing more will arrive.
            return
        view = await self.ctx.db(self.ctx.store.view, sel.mailbox.id)
        current = dict(zip(view.uids, view.flags, strict=True))

        gone = [uid for uid in sel.uids if uid not in current]
        if allow_expunge:
            self.send_expunges(gone)
            sel.pending_expunge = False
        else:
            sel.pending_expunge = bool(gone)

        for seq, uid in enumerate(sel.uids, start=1):
            flags = current.get(uid)
            if flags is not None and flags != sel.flags.get(uid):
                sel.flags[uid] = flags
                line = b"%d FETCH (FLAGS " % seq
                self.untagged(line + flags_list(flags, uid in sel.recent) + b")")

        last = sel.uids[-1] if sel.uids else 0
        new = [uid for uid in view.uids if uid > last]
        if new:
            sel.uids.extend(new)
            for uid in new:
                sel.flags[uid] = current[uid]
            if not sel.read_only:
                mark = await self.ctx.db(self.ctx.store.claim_recent, sel.mailbox.id)
                sel.recent.update(uid for uid in new if uid >= mark)
            self.untagged(f"{len(sel.uids)} EXISTS")
            self.untagged(f"{len(sel.recent)} RECENT")
        sel.modseq = view.modseq

    def require_writable(self) -> Selected:
        sel = self.selected
        if sel is None:
            raise CommandFailed("no mailbox selected")
        if sel.read_only:
            raise CommandFailed("mailbox is read-only", "READ-ONLY")
        return sel

    def flags_response(self, seq: int, uid: int, with_uid: bool) -> bytes:
        sel = self.selected
        assert sel is not None
        items = b"FLAGS " + flags_list(sel.flags.get(uid, ()), uid in sel.recent)
        if with_uid:
            items = b"UID " + wire.number(uid) + b" " + items
        return b"%d FETCH (" % seq + items + b")"
