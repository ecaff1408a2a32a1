"""Pure SMTP decisions: which recipients we take, and the replies we give.

Every function here is a plain function of its inputs so the decisions are
tested with tables, without a socket.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

MAX_RECIPIENTS = 100

OK_RCPT = "250 2.1.5 Recipient ok"
UNKNOWN_USER = "550 5.1.1 <{address}>: Recipient address rejected: unknown user"
UNKNOWN_DOMAIN = (
    "550 5.1.1 <{address}>: Recipient address rejected: domain not served here"
)
BAD_ADDRESS = "501 5.1.3 <{address}>: Bad recipient address syntax"
TOO_MANY_RCPTS = "452 4.5.3 Too many recipients"
QUEUE_FULL = "451 4.3.2 System busy, try again later"
STORE_DOWN = "451 4.3.0 Storage temporarily unavailable, try again later"
SPOOL_FAILED = "451 4.3.0 Cannot spool message, try again later"


@dataclass(frozen=True, slots=True)
class RecipientPolicy:
    """The domains we serve and the addresses that have a mailbox."""

    domains: frozenset[str]
    addresses: frozenset[str]

    @classmethod
    def build(cls, domains: Iterable[str], addresses: Iterable[str]) -> RecipientPolicy:
        return cls(
            domains=frozenset(d.lower() for d in domains),
            addresses=frozenset(a.lower() for a in addresses),
        )


def recipient_reply(policy: RecipientPolicy, address: str, accepted: int) -> str:
    """The reply to ``RCPT TO:<address>`` when ``accepted`` are already taken."""
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        return BAD_ADDRESS.format(address=address)
    if accepted >= MAX_RECIPIENTS:
        return TOO_MANY_RCPTS
    if domain.lower() not in policy.domains:
        return UNKNOWN_DOMAIN.format(address=address)
    if address.lower() not in policy.addresses:
        return UNKNOWN_USER.format(address=address)
    return OK_RCPT


# aiosmtpd's own replies carry no enhanced status code (RFC 3463); these
# are rewritten on the way out.
_ENHANCED = (
    ("552 Error: message size exceeds", "552 5.3.4 Message size exceeds fixed limit"),
    ("552 Error: Too much mail data", "552 5.3.4 Message size exceeds fixed limit"),
    ("500 Line too long", "500 5.5.2 Line too long (RFC 5321 4.5.3.1.6)"),
    ("503 Error: need RCPT", "503 5.5.1 Need RCPT command"),
    ("503 Error: need MAIL", "503 5.5.1 Need MAIL command"),
    ("503 Error: nested MAIL", "503 5.5.1 Nested MAIL command"),
    ("503 Error: send HELO first", "503 5.5.1 Send HELO or EHLO first"),
    ("250 OK", "250 2.0.0 Ok"),
)


def enhance_reply(reply: str) -> str:
    """Give an aiosmtpd default reply its enhanced status code."""
    for prefix, replacement in _ENHANCED:
        if reply.startswith(prefix):
            return replacement
    return reply


def received_header(
    *,
    hostname: str,
    peer_host: str,
    helo: str | None,
    queue_id: str,
    rcpt_count: int,
    recipient: str,
    smtp_utf8: bool,
    when: datetime,
) -> bytes:
    """The ``Received:`` trace header mailray adds (RFC 5321 4.4)."""
    protocol = "UTF8SMTP" if smtp_utf8 else "ESMTP"
    helo_part = f"from {_clean(helo)} ({peer_host})" if helo else f"from {peer_host}"
    # One recipient is named only when there is just one, as MTAs do, so
    # Bcc recipients are not disclosed to each other.
    rcpt_part = f"\r\n\tfor <{_clean(recipient)}>" if rcpt_count == 1 else ""
    line = (
        f"Received: {helo_part}\r\n\tby {hostname} (mailray) with {protocol} "
        f"id {queue_id}{rcpt_part};\r\n\t{format_datetime(when)}\r\n"
    )
    return line.encode("utf-8", errors="surrogateescape")


def _clean(value: str | None) -> str:
    """Keep trace fields on one line whatever the client sent."""
    text = value or ""
    return "".join(ch for ch in text if ch >= " " and ch not in "()<>;")[:255]
