"""Mailbox commands: SELECT, EXAMINE, CREATE, DELETE, RENAME, (UN)SUBSCRIBE,
LIST, LSUB, STATUS, CLOSE, UNSELECT (RFC 3501 6.3, 6.4.2; RFC 3691)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from imap import wire
from imap.errors import CommandFailed, ProtocolError
from imap.metadata import MailboxRecord
from imap.parser import Command, arity, astring, mailbox_name

if TYPE_CHECKING:
    from imap.session import Session

DELIMITER = "/"
SYSTEM_FLAGS = "\\Answered \\Flagged \\Deleted \\Seen \\Draft"
_STATUS_ITEMS = ("MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN")


def _user_id(session: Session) -> int:
    assert session.user is not None
    return session.user.id


async def find_mailbox(session: Session, name: str) -> MailboxRecord:
    mailbox = await session.ctx.db(
        session.ctx.store.get_mailbox, _user_id(session), name
    )
    if mailbox is None:
        raise CommandFailed(f"no mailbox {name!r}", "NONEXISTENT")
    return mailbox


def _check_name(name: str) -> str:
    name = name.rstrip(DELIMITER)
    if not name or DELIMITER * 2 in name or name.startswith(DELIMITER):
        raise CommandFailed(f"bad mailbox name {name!r}", "CANNOT")
    if any(ord(c) < 32 for c in name) or "*" in name or "%" in name:
        raise CommandFailed(f"bad mailbox name {name!r}", "CANNOT")
    return name


async def select(session: Session, cmd: Command) -> str:
    arity(cmd, 1)
    read_only = cmd.name == "EXAMINE"
    session.unselect()
    mailbox = await find_mailbox(session, mailbox_name(cmd.args[0]))
    sel = await session.select(mailbox, read_only)
    status = await session.ctx.db(session.ctx.store.status, mailbox.id)

    session.untagged(f"FLAGS ({SYSTEM_FLAGS})")
    permanent = "" if read_only else f"{SYSTEM_FLAGS} \\*"
    session.untagged(f"OK [PERMANENTFLAGS ({permanent})] flags that stick")
    session.untagged(f"{len(sel.uids)} EXISTS")
    session.untagged(f"{len(sel.recent)} RECENT")
    for seq, uid in enumerate(sel.uids, start=1):
        if "\\Seen" not in sel.flags.get(uid, ()):
            session.untagged(f"OK [UNSEEN {seq}] first unseen")
            break
    session.untagged(f"OK [UIDVALIDITY {status.uidvalidity}] UIDs valid")
    session.untagged(f"OK [UIDNEXT {status.uidnext}] predicted next UID")
    mode = "READ-ONLY" if read_only else "READ-WRITE"
    return f"OK [{mode}] {cmd.name} completed"


async def close(session: Session, cmd: Command) -> str:
    arity(cmd, 0)
    sel = session.selected
    if sel is not None and not sel.read_only:
        gone = await session.ctx.db(session.ctx.store.expunge, sel.mailbox.id, None)
        if gone:
            session.ctx.hub.notify(sel.mailbox.id)
    session.unselect()
    return "OK CLOSE completed"


async def unselect(session: Session, cmd: Command) -> str:
    arity(cmd, 0)
    session.unselect()
    return "OK UNSELECT completed"


async def create(session: Session, cmd: Command) -> str:
    arity(cmd, 1)
    name = _check_name(mailbox_name(cmd.args[0]))
    if name == "INBOX":
        raise CommandFailed("INBOX always exists", "ALREADYEXISTS")
    await session.ctx.db(session.ctx.store.create_mailbox, _user_id(session), name)
    return "OK CREATE completed"


async def delete(session: Session, cmd: Command) -> str:
    arity(cmd, 1)
    name = mailbox_name(cmd.args[0])
    if name == "INBOX":
        raise CommandFailed("INBOX cannot be deleted", "CANNOT")
    if session.selected is not None and session.selected.mailbox.name == name:
        session.unselect()
    mailbox_id = await session.ctx.db(
        session.ctx.store.delete_mailbox, _user_id(session), name
    )
    session.ctx.hub.notify(mailbox_id)
    return "OK DELETE completed"


async def rename(session: Session, cmd: Command) -> str:
    arity(cmd, 2)
    old = mailbox_name(cmd.args[0])
    new = _check_name(mailbox_name(cmd.args[1]))
    if new == "INBOX":
        raise CommandFailed("cannot rename to INBOX", "ALREADYEXISTS")
    mailbox_id = await session.ctx.db(
        session.ctx.store.rename_mailbox, _user_id(session), old, new
    )
    session.ctx.hub.notify(mailbox_id)
    return "OK RENAME completed"


async def subscribe(session: Session, cmd: Command) -> str:
    arity(cmd, 1)
    name = mailbox_name(cmd.args[0])
    wanted = cmd.name == "SUBSCRIBE"
    if wanted:
        await find_mailbox(session, name)
    await session.ctx.db(
        session.ctx.store.set_subscribed, _user_id(session), name, wanted
    )
    return f"OK {cmd.name} completed"


def pattern_regex(reference: str, pattern: str) -> re.Pattern[str]:
    """LIST wildcards: ``*`` matches anything, ``%`` stops at the delimiter."""
    full = reference + pattern
    parts = []
    for char in full:
        if char == "*":
            parts.append(".*")
        elif char == "%":
            parts.append(f"[^{re.escape(DELIMITER)}]*")
        else:
            parts.append(re.escape(char))
    text = "".join(parts)
    if full.upper().startswith("INBOX"):
        text = "(?i:" + re.escape("INBOX") + ")" + text[len(re.escape("INBOX")) :]
    return re.compile(text + r"\Z", re.DOTALL)


async def list_(session: Session, cmd: Command) -> str:
    arity(cmd, 2)
    reference = astring(cmd.args[0], "reference")
    pattern = astring(cmd.args[1], "pattern")
    if cmd.name == "LIST" and pattern == "":
        session.untagged(b'LIST (\\Noselect) "/" ""')
        return "OK LIST completed"

    regex = pattern_regex(reference, pattern)
    user_id = _user_id(session)
    mailboxes = await session.ctx.db(session.ctx.store.list_mailboxes, user_id)
    by_name = {m.name: m for m in mailboxes}
    if cmd.name == "LSUB":
        names = await session.ctx.db(session.ctx.store.subscriptions, user_id)
    else:
        names = sorted(by_name, key=lambda n: (n != "INBOX", n))
    for name in names:
        if not regex.match(name):
            continue
        mailbox = by_name.get(name)
        attributes = []
        if mailbox is None:
            attributes.append("\\Noselect")
        elif mailbox.special_use:
            attributes.append(mailbox.special_use)
        prefix = name + DELIMITER
        has_children = any(other.startswith(prefix) for other in by_name)
        attributes.append("\\HasChildren" if has_children else "\\HasNoChildren")
        line = f'{cmd.name} ({" ".join(attributes)}) "{DELIMITER}" '.encode()
        session.untagged(line + wire.astring(name))
    return f"OK {cmd.name} completed"


async def status(session: Session, cmd: Command) -> str:
    arity(cmd, 2)
    name = mailbox_name(cmd.args[0])
    items = cmd.args[1]
    if not isinstance(items, list) or not items:
        raise ProtocolError("STATUS needs a list of items")
    wanted = []
    for item in items:
        key = astring(item).upper()
        if key not in _STATUS_ITEMS:
            raise ProtocolError(f"unknown STATUS item {key}")
        wanted.append(key)
    mailbox = await find_mailbox(session, name)
    counts = await session.ctx.db(session.ctx.store.status, mailbox.id)
    values = {
        "MESSAGES": counts.messages,
        "RECENT": counts.recent,
        "UIDNEXT": counts.uidnext,
        "UIDVALIDITY": counts.uidvalidity,
        "UNSEEN": counts.unseen,
    }
    text = " ".join(f"{key} {values[key]}" for key in wanted)
    session.untagged(b"STATUS " + wire.astring(name) + f" ({text})".encode())
    return "OK STATUS completed"
