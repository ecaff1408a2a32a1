"""The SMTP front: aiosmtpd with mailray's replies, and a thin handler.

The handler only validates, spools and enqueues; everything it does with a
message goes through the ``accept`` callable it is given (see
:mod:`ingest.actor`), so it can be tested on a loopback socket without Ray.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email._header_value_parser import get_addr_spec, get_angle_addr
from email.errors import HeaderParseError
from typing import Any, AnyStr

from aiosmtpd.smtp import SMTP, Envelope, Session

from ingest.policy import RecipientPolicy, enhance_reply, recipient_reply
from ingest.types import ReceivedMessage

log = logging.getLogger("mailray.ingest")

# Takes the envelope and returns the reply to DATA (250 only once spooled).
AcceptFn = Callable[[ReceivedMessage], Awaitable[str]]
# Builds a ReceivedMessage from the session and envelope (adds Received).
BuildFn = Callable[[Session, Envelope], ReceivedMessage]


class MailraySMTP(SMTP):
    """aiosmtpd's protocol with enhanced status codes on its own replies."""

    # RFC 5321 allows 1000 octets per line, but real mail (spam above all)
    # has longer ones and every mainstream MTA takes them; DATA still ends
    # only at CRLF.CRLF and the total stays bounded by SIZE.
    line_length_limit = 64 * 1024

    async def push(self, status: AnyStr) -> None:
        if isinstance(status, str):
            status = enhance_reply(status)  # type: ignore[assignment]
        await super().push(status)

    # The two overrides below remove costs aiosmtpd 1.4.6 (pinned) pays on
    # every connection and every MAIL and RCPT: with one message per
    # connection, about a quarter of its CPU per message.

    def __dir__(self) -> list[str]:
        # SMTP.__init__ finds the command, hook and AUTH methods of the
        # protocol and its handler by scanning dir() of both with
        # inspect.getmembers, on every connection; the scan needs no more.
        return list(_names(type(self), ("smtp_", "auth_")))

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        # aiosmtpd's own defines a typing.Protocol class on every MAIL and
        # RCPT (about 45 µs each); this is the same parse without it.
        if not arg:
            return "", ""
        try:
            if arg.lstrip().startswith("<"):
                address, rest = get_angle_addr(arg)
            else:
                address, rest = get_addr_spec(arg)
        except HeaderParseError:
            return None, None
        addr_spec: str = address.addr_spec
        local_part = addr_spec.rpartition("@")[0]
        if self.local_part_limit and len(local_part) > self.local_part_limit:
            return None, None
        return addr_spec, rest


@functools.cache
def _names(cls: type, prefixes: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(name for name in dir(cls) if name.startswith(prefixes))


class IngestHandler:
    """aiosmtpd hooks: recipient checks, PIPELINING, and hand-off on DATA."""

    def __init__(
        self,
        policy: RecipientPolicy,
        build: BuildFn,
        accept: AcceptFn,
    ) -> None:
        self._policy = policy
        self._build = build
        self._accept = accept

    def __dir__(self) -> list[str]:
        # See MailraySMTP.__dir__.
        return list(_names(type(self), ("handle_", "auth_")))

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        # aiosmtpd reads commands one by one from a buffered stream, so a
        # pipelined batch is answered in order; it just does not say so.
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        reply = recipient_reply(self._policy, address, len(envelope.rcpt_tos))
        if reply.startswith("250"):
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(rcpt_options)
        else:
            log.info("%s refused rcpt %r: %s", session.peer, address, reply)
        return reply

    async def handle_DATA(
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        message = self._build(session, envelope)
        return await self._accept(message)


def build_received(hostname: str) -> BuildFn:
    """A builder that stamps a queue id and prepends mailray's Received."""
    from ingest.policy import received_header
    from ingest.spool import new_queue_id

    def build(session: Session, envelope: Envelope) -> ReceivedMessage:
        queue_id = new_queue_id()
        now = datetime.now(UTC)
        peer_host = _peer_host(session.peer)
        trace = received_header(
            hostname=hostname,
            peer_host=peer_host,
            helo=session.host_name,
            queue_id=queue_id,
            rcpt_count=len(envelope.rcpt_tos),
            recipient=envelope.rcpt_tos[0] if envelope.rcpt_tos else "",
            smtp_utf8=envelope.smtp_utf8,
            when=now,
        )
        content = envelope.original_content or b""
        return ReceivedMessage(
            queue_id=queue_id,
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            received_at=now,
            peer=peer_host,
            raw=trace + content,
        )

    return build


def make_protocol(
    handler: IngestHandler,
    *,
    hostname: str,
    max_message_bytes: int,
    read_timeout_s: float,
) -> Callable[[], MailraySMTP]:
    """The protocol factory for ``loop.create_server``."""

    def factory() -> MailraySMTP:
        return MailraySMTP(
            handler,
            data_size_limit=max_message_bytes,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=hostname,
            timeout=read_timeout_s,
        )

    return factory


def _peer_host(peer: Any) -> str:
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return str(peer or "unknown")
