"""Commands valid in any state, and authentication (RFC 3501 6.1, 6.2)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from typing import TYPE_CHECKING

from imap.errors import CommandFailed, ProtocolError
from imap.parser import Command, arity, astring, atom
from imap.passwords import verify_password

if TYPE_CHECKING:
    from imap.session import Session

log = logging.getLogger("mailray.imap")

SERVER_ID = '("name" "mailray" "vendor" "mailray" "version" "0.1.0")'


async def capability(session: Session, cmd: Command) -> str:
    arity(cmd, 0)
    session.untagged("CAPABILITY " + session.capability_text())
    return "OK CAPABILITY completed"


async def noop(session: Session, cmd: Command) -> str:
    arity(cmd, 0)
    return f"OK {cmd.name} completed"


async def logout(session: Session, cmd: Command) -> str:
    from imap.session import LOGOUT

    arity(cmd, 0)
    session.untagged("BYE mailray logging out")
    session.unselect()
    session.state = LOGOUT
    return "OK LOGOUT completed"


async def id_(session: Session, cmd: Command) -> str:
    arity(cmd, 1)
    if not isinstance(cmd.args[0], list) and cmd.args[0] != "NIL":
        raise ProtocolError("ID takes a parameter list or NIL")
    session.untagged("ID " + SERVER_ID)
    return "OK ID completed"


async def enable(session: Session, cmd: Command) -> str:
    if not cmd.args:
        raise ProtocolError("ENABLE needs at least one capability")
    for token in cmd.args:
        atom(token, "capability")
    # None of the ENABLE-able extensions is supported, so none is enabled.
    session.untagged("ENABLED")
    return "OK ENABLE completed"


async def namespace(session: Session, cmd: Command) -> str:
    arity(cmd, 0)
    session.untagged('NAMESPACE (("" "/")) NIL NIL')
    return "OK NAMESPACE completed"


async def login(session: Session, cmd: Command) -> str:
    arity(cmd, 2)
    name = astring(cmd.args[0], "user name")
    password = astring(cmd.args[1], "password")
    await _authenticate(session, name, password)
    return f"OK [CAPABILITY {session.capability_text()}] LOGIN completed"


async def authenticate(session: Session, cmd: Command) -> str:
    arity(cmd, 1, 2)
    mechanism = atom(cmd.args[0], "mechanism").upper()
    if mechanism != "PLAIN":
        raise CommandFailed(f"mechanism {mechanism} is not supported", "CANNOT")
    if len(cmd.args) == 2:
        response = astring(cmd.args[1]).encode()
    else:
        session.conn.write(b"+ \r\n")
        await session.conn.drain()
        response = (await session.conn.read_line()).strip()
    if response == b"*":
        raise ProtocolError("authentication cancelled")
    try:
        decoded = b"" if response == b"=" else base64.b64decode(response, validate=True)
        authzid, authcid, password = decoded.split(b"\0")
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError("malformed PLAIN response") from exc
    name = authcid.decode("utf-8", "replace")
    if authzid and authzid != authcid:
        raise CommandFailed("authorization identity must match", "AUTHORIZATIONFAILED")
    await _authenticate(session, name, password.decode("utf-8", "replace"))
    return f"OK [CAPABILITY {session.capability_text()}] AUTHENTICATE completed"


async def _authenticate(session: Session, name: str, password: str) -> None:
    from imap.session import AUTHENTICATED

    ctx = session.ctx
    host = session.conn.peer_host
    locked_s = ctx.guard.locked_for_s(host, name)
    if locked_s > 0:
        log.warning("%s login for %r refused: too many failures", host, name)
        raise CommandFailed(
            f"too many failed logins; try again in {int(locked_s) + 1} s",
            "UNAVAILABLE",
        )
    record = await ctx.db(ctx.store.get_user, name)
    ok = record is not None and await ctx.io(
        verify_password, password, record.password_hash
    )
    if not ok or record is None:
        delay_s = ctx.guard.failed(host, name)
        log.info("%s login for %r failed", host, name)
        await asyncio.sleep(delay_s)
        raise CommandFailed("invalid user name or password", "AUTHENTICATIONFAILED")
    ctx.guard.succeeded(host, name)
    session.user = record
    session.state = AUTHENTICATED
    log.info("%s logged in as %s", host, name)
