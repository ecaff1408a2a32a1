"""Commands on messages of the selected mailbox: FETCH, STORE, SEARCH,
COPY, MOVE, EXPUNGE and their UID forms (RFC 3501 6.4, 4315, 6851)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from imap import feedback
from imap.cmd_mailbox import find_mailbox
from imap.errors import CommandFailed, ProtocolError
from imap.fetch import parse_items, render
from imap.metadata import FeedbackSpec, MailRow
from imap.parser import Command, arity, atom, flag_list, mailbox_name
from imap.search import Candidate, parse_search
from imap.sequence import compress_uids

if TYPE_CHECKING:
    from imap.session import Selected, Session


def _selected(session: Session) -> Selected:
    if session.selected is None:
        raise CommandFailed("no mailbox selected")
    return session.selected


async def fetch(session: Session, cmd: Command) -> str:
    arity(cmd, 2)
    sel = _selected(session)
    ctx = session.ctx
    pairs = sel.resolve(atom(cmd.args[0], "sequence set"), cmd.uid)
    items = parse_items(cmd.args[1])
    if not pairs:
        return f"OK {_name(cmd)} completed"

    uids = [uid for _, uid in pairs]
    if items.sets_seen and not sel.read_only:
        unseen = [uid for uid in uids if "\\Seen" not in sel.flags.get(uid, ())]
        if unseen:
            changed = await ctx.db(
                ctx.store.store_flags, sel.mailbox.id, unseen, "add", ["\\Seen"]
            )
            sel.flags.update(changed)
            ctx.hub.notify(sel.mailbox.id)
    if items.sets_seen and "FLAGS" not in items.simple:
        items = type(items)((*items.simple, "FLAGS"), items.sections)

    rows = await ctx.db(ctx.store.rows, sel.mailbox.id, uids)
    seq_of = {uid: seq for seq, uid in pairs}
    recent = set(sel.recent)

    def render_all() -> list[bytes]:
        out = []
        for row in rows:
            raw = ctx.objects.read(row.raw_key) if items.needs_content else None
            out.append(
                render(
                    seq_of[row.uid],
                    row,
                    items,
                    recent=row.uid in recent,
                    with_uid=cmd.uid,
                    raw=raw,
                )
            )
        return out

    for line in await ctx.io(render_all):
        session.conn.write(line)
    return f"OK {_name(cmd)} completed"


def _name(cmd: Command) -> str:
    return ("UID " if cmd.uid else "") + cmd.name


async def store(session: Session, cmd: Command) -> str:
    arity(cmd, 3)
    sel = session.require_writable()
    ctx = session.ctx
    pairs = sel.resolve(atom(cmd.args[0], "sequence set"), cmd.uid)
    action = atom(cmd.args[1], "STORE action").upper()
    silent = action.endswith(".SILENT")
    modes = {"FLAGS": "set", "+FLAGS": "add", "-FLAGS": "remove"}
    mode = modes.get(action.removesuffix(".SILENT"))
    if mode is None:
        raise ProtocolError(f"unknown STORE action {action}")
    flags = [f for f in flag_list(cmd.args[2]) if f != "\\Recent"]
    if not pairs:
        return f"OK {_name(cmd)} completed"

    label = feedback.label_for_flags(flags) if mode != "remove" else None
    spec = None
    if label is not None:
        assert session.user is not None
        spec = FeedbackSpec(session.user.name, label, "imap-flag", sel.mailbox.name)
    uids = [uid for _, uid in pairs]
    changed = await ctx.db(
        ctx.store.store_flags, sel.mailbox.id, uids, mode, flags, spec
    )
    sel.flags.update(changed)
    ctx.hub.notify(sel.mailbox.id)
    if not silent:
        for seq, uid in pairs:
            if uid in changed:
                session.conn.write(b"* " + session.flags_response(seq, uid, cmd.uid))
                session.conn.write(b"\r\n")
    return f"OK {_name(cmd)} completed"


async def search(session: Session, cmd: Command) -> str:
    sel = _selected(session)
    ctx = session.ctx
    query = parse_search(cmd.args)
    uids = list(sel.uids)
    rows = await ctx.db(ctx.store.rows, sel.mailbox.id, uids)
    seq_of = {uid: seq for seq, uid in enumerate(uids, start=1)}
    recent = set(sel.recent)
    largest_uid = uids[-1] if uids else 0

    def run() -> list[int]:
        found = []
        for row in rows:
            candidate = _candidate(row, seq_of[row.uid], len(uids), largest_uid)
            candidate.recent = row.uid in recent
            if query.matches(candidate):
                found.append(row.uid if cmd.uid else candidate.seq)
        return found

    def _candidate(row: MailRow, seq: int, count: int, largest: int) -> Candidate:
        return Candidate(
            seq=seq,
            uid=row.uid,
            flags=row.flags,
            size=row.size,
            internaldate=row.internaldate,
            recent=False,
            largest_seq=count,
            largest_uid=largest,
            load=lambda: ctx.objects.read(row.raw_key),
        )

    found = await ctx.io(run)
    session.untagged("SEARCH" + "".join(f" {n}" for n in found))
    return f"OK {_name(cmd)} completed"


async def copy(session: Session, cmd: Command) -> str:
    arity(cmd, 2)
    sel = _selected(session)
    move = cmd.name == "MOVE"
    if move:
        sel = session.require_writable()
    ctx = session.ctx
    pairs = sel.resolve(atom(cmd.args[0], "sequence set"), cmd.uid)
    target_name = mailbox_name(cmd.args[1])
    try:
        target = await find_mailbox(session, target_name)
    except CommandFailed as exc:
        raise CommandFailed(exc.reason, "TRYCREATE") from exc
    if not pairs:
        return f"OK {_name(cmd)} completed"

    label = feedback.label_for_transfer(sel.mailbox.name, target.name)
    spec = None
    if label is not None:
        assert session.user is not None
        source = "imap-move" if move else "imap-copy"
        spec = FeedbackSpec(session.user.name, label, source, target.name)
    uids = [uid for _, uid in pairs]
    moved = await ctx.db(ctx.store.copy, sel.mailbox.id, uids, target.id, move, spec)
    ctx.hub.notify(target.id, sel.mailbox.id)
    if not moved:
        return f"OK {_name(cmd)} completed"

    code = (
        f"COPYUID {target.uidvalidity} {compress_uids([s for s, _ in moved])} "
        f"{compress_uids([d for _, d in moved])}"
    )
    if not move:
        return f"OK [{code}] {_name(cmd)} completed"
    session.untagged(f"OK [{code}] moved")
    session.send_expunges([s for s, _ in moved])
    return f"OK {_name(cmd)} completed"


async def expunge(session: Session, cmd: Command) -> str:
    sel = session.require_writable()
    ctx = session.ctx
    wanted = None
    if cmd.uid:
        arity(cmd, 1)
        wanted = [uid for _, uid in sel.resolve(atom(cmd.args[0]), by_uid=True)]
    else:
        arity(cmd, 0)
    gone = await ctx.db(ctx.store.expunge, sel.mailbox.id, wanted)
    session.send_expunges(gone)
    if gone:
        ctx.hub.notify(sel.mailbox.id)
    return f"OK {_name(cmd)} completed"
