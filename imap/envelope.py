"""The ENVELOPE structure of RFC 3501 (7.4.2), from raw header fields.

Values are served as the message has them (encoded words stay encoded);
Sender and Reply-To fall back to From when absent, as the RFC asks.
"""

from __future__ import annotations

import re
from email.message import Message
from email.utils import getaddresses

from imap import wire

_FOLD = re.compile(r"\r?\n(?=[ \t])")


def raw_value(fields: Message, name: str) -> bytes | None:
    """A header value as bytes, unfolded; ``None`` when absent."""
    value = fields.get(name)
    if value is None:
        return None
    text = _FOLD.sub("", str(value)).strip()
    return text.encode("utf-8", "surrogateescape")


def addresses(fields: Message, name: str) -> bytes:
    values = fields.get_all(name)
    if not values:
        return wire.NIL
    texts = [_FOLD.sub("", str(v)) for v in values]
    items = []
    for display, address in getaddresses(texts):
        if not address and not display:
            continue
        mailbox, _, host = (
            address.rpartition("@")
            if "@" in address
            else (
                address,
                "",
                "",
            )
        )
        items.append(
            wire.plist(
                [
                    _nstring(display),
                    wire.NIL,
                    _nstring(mailbox),
                    _nstring(host),
                ]
            )
        )
    # RFC 3501: addresses follow each other without a space.
    return b"(" + b"".join(items) + b")" if items else wire.NIL


def _nstring(value: str) -> bytes:
    if not value:
        return wire.NIL
    return wire.string(value.encode("utf-8", "surrogateescape"))


def envelope(fields: Message) -> bytes:
    from_ = addresses(fields, "From")
    sender = addresses(fields, "Sender") if fields.get("Sender") else from_
    reply_to = addresses(fields, "Reply-To") if fields.get("Reply-To") else from_
    return wire.plist(
        [
            wire.string(raw_value(fields, "Date")),
            wire.string(raw_value(fields, "Subject")),
            from_,
            sender,
            reply_to,
            addresses(fields, "To"),
            addresses(fields, "Cc"),
            addresses(fields, "Bcc"),
            wire.string(raw_value(fields, "In-Reply-To")),
            wire.string(raw_value(fields, "Message-ID")),
        ]
    )
