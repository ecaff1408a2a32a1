"""APPEND (RFC 3501 6.3.11) with APPENDUID (RFC 4315).

The message is written to the storage root and made durable before its
metadata row is committed, and the OK follows the commit.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from imap import feedback, wire
from imap.cmd_mailbox import find_mailbox
from imap.errors import CommandFailed, ProtocolError
from imap.metadata import FeedbackSpec, MessageInfo
from imap.objects import new_message_key, raw_key_for
from imap.parser import Command, flag_list, mailbox_name

if TYPE_CHECKING:
    from imap.session import Session

_MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(.*?)\r?$", re.IGNORECASE | re.MULTILINE)


def message_id_of(raw: bytes) -> str:
    """The Message-ID header of a raw message, or ``""``."""
    header_end = raw.find(b"\r\n\r\n")
    header = raw if header_end < 0 else raw[:header_end]
    match = _MESSAGE_ID.search(header)
    return match.group(1).strip().decode("utf-8", "replace") if match else ""


async def append(session: Session, cmd: Command) -> str:
    args = list(cmd.args)
    if len(args) < 2 or len(args) > 4:
        raise ProtocolError(
            "APPEND takes a mailbox, optional flags and date, a message"
        )
    message = args.pop()
    if not isinstance(message, bytes):
        raise ProtocolError("APPEND needs the message as a literal")
    name = mailbox_name(args.pop(0))
    flags: list[str] = []
    internaldate = datetime.now(UTC).replace(microsecond=0)
    for extra in args:
        if isinstance(extra, list):
            flags = [f for f in flag_list(extra) if f != "\\Recent"]
        elif isinstance(extra, bytes):
            try:
                internaldate = wire.parse_internaldate(extra.decode("ascii"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise ProtocolError(f"bad APPEND date {extra!r}") from exc
        else:
            raise ProtocolError("APPEND: unexpected argument")
    if not message:
        raise CommandFailed("empty message")

    try:
        mailbox = await find_mailbox(session, name)
    except CommandFailed as exc:
        raise CommandFailed(exc.reason, "TRYCREATE") from exc
    ctx = session.ctx
    key = new_message_key()
    raw_key = raw_key_for(key)
    await ctx.io(ctx.objects.write, raw_key, message)

    info = MessageInfo(
        queue_id=key,
        raw_key=raw_key,
        size=len(message),
        message_id=message_id_of(message),
    )
    label = feedback.label_for_transfer(None, mailbox.name)
    spec = None
    if label is not None:
        assert session.user is not None
        spec = FeedbackSpec(session.user.name, label, "imap-append", mailbox.name)
    uid = await ctx.db(ctx.store.append, mailbox.id, info, flags, internaldate, spec)
    ctx.hub.notify(mailbox.id)
    return f"OK [APPENDUID {mailbox.uidvalidity} {uid}] APPEND completed"
