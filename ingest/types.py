"""Small frozen records that cross Ray boundaries between stages.

Nothing here holds an ``email.message.Message``: stages exchange plain
bytes, strings and numbers so that every record pickles cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """A message accepted over SMTP and fsynced to the spool.

    ``raw`` is exactly what will be stored: the Received header mailray
    adds, then the DATA bytes after dot-unstuffing.
    """

    queue_id: str
    """mailray's own id, unique per accepted message; the storage key."""
    mail_from: str
    rcpt_tos: tuple[str, ...]
    received_at: datetime
    """UTC."""
    peer: str
    raw: bytes


@dataclass(frozen=True, slots=True)
class Attachment:
    """One attachment or inline non-text part, stored once by content hash."""

    sha256: str
    filename: str | None
    content_type: str
    size: int
    payload: bytes = field(repr=False, default=b"")


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    """What the parse stage extracts; never raises on broken MIME.

    Header values are decoded to text (RFC 2047, charsets); missing ones are
    empty strings. ``defects`` names what the parser had to repair.
    """

    subject: str
    from_: str
    to: str
    cc: str
    date: str
    message_id: str
    in_reply_to: str
    from_name: str
    from_domain: str
    to_count: int
    cc_count: int
    text: str
    """Plain text of the body: text parts, then HTML parts converted."""
    html_only: bool
    attachments: tuple[Attachment, ...]
    defects: tuple[str, ...] = ()
    date_utc: datetime | None = None


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message whose Parquet row and raw object are durably written.

    This is what delivery to mailboxes (IMAP) receives from the store stage.
    """

    queue_id: str
    mail_from: str
    rcpt_tos: tuple[str, ...]
    received_at: datetime
    size: int
    """Byte length of the stored raw message (what IMAP calls RFC822.SIZE)."""
    raw_key: str
    """Where the raw bytes are, relative to the storage root."""
    message_id: str
    subject: str
    from_: str
    spam_score: float
    label: str
    model_version: str
