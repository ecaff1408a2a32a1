"""The spool's on-disk records: many messages appended to one segment file.

A record is a fixed header, then the payload (a JSON envelope line and the
raw bytes)::

    magic        4 bytes, b"MRS1"
    length       u32, bytes of payload
    crc32        u32, of spooled_at, queue_id and the payload
    spooled_at   f64, Unix time of the write
    queue_id     32 ASCII hex digits
    payload

A crash mid-append leaves a record that is short or fails its CRC. Reading
stops at the first such record: a segment is only ever appended to, and a
group is fsynced before any of it is answered, so nothing after a bad
record ever got a 250.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime

from ingest.errors import SpoolError
from ingest.types import ReceivedMessage

MAGIC = b"MRS1"
_FRAME = struct.Struct(">4sII")  # magic, length, crc32
_CHECKED = struct.Struct(">d32s")  # spooled_at, queue_id: covered by the CRC
HEADER_BYTES = _FRAME.size + _CHECKED.size


@dataclass(frozen=True, slots=True)
class Record:
    """Where one spooled message lies in its segment."""

    queue_id: str
    spooled_at: float
    offset: int
    """Of the payload, from the start of the file."""
    length: int


def encode(message: ReceivedMessage, spooled_at: float) -> bytes:
    """One record: header and payload, ready to append."""
    queue_id = message.queue_id.encode("ascii")
    if len(queue_id) > 32:
        raise ValueError(f"queue_id must be at most 32 characters: {queue_id!r}")
    envelope = json.dumps(
        {
            "queue_id": message.queue_id,
            "mail_from": message.mail_from,
            "rcpt_tos": list(message.rcpt_tos),
            "received_at": message.received_at.isoformat(),
            "peer": message.peer,
        }
    ).encode()
    payload = envelope + b"\n" + message.raw
    checked = _CHECKED.pack(spooled_at, queue_id)
    crc = zlib.crc32(payload, zlib.crc32(checked))
    return _FRAME.pack(MAGIC, len(payload), crc) + checked + payload


def scan(data: bytes, base: int = 0) -> tuple[list[Record], int]:
    """The valid records in ``data`` (read from file offset ``base``), and
    the offset just past the last one: where a torn tail, or a record
    still being appended, begins."""
    records = []
    view = memoryview(data)
    position = 0
    while position + HEADER_BYTES <= len(data):
        magic, length, crc = _FRAME.unpack_from(data, position)
        start = position + HEADER_BYTES
        end = start + length
        if magic != MAGIC or end > len(data):
            break
        checked = view[position + _FRAME.size : start]
        if zlib.crc32(view[start:end], zlib.crc32(checked)) != crc:
            break
        spooled_at, padded_id = _CHECKED.unpack(checked)
        queue_id = padded_id.rstrip(b"\0").decode("ascii")
        records.append(Record(queue_id, spooled_at, base + start, length))
        position = end
    return records, base + position


def decode(queue_id: str, payload: bytes) -> ReceivedMessage:
    """The message a record (or a legacy ``.msg`` file) holds."""
    envelope_line, sep, raw = payload.partition(b"\n")
    if not sep:
        raise SpoolError(queue_id, "spooled message has no envelope line")
    try:
        envelope = json.loads(envelope_line)
        received_at = datetime.fromisoformat(envelope["received_at"])
    except (ValueError, KeyError) as exc:
        raise SpoolError(queue_id, f"bad envelope line: {exc}") from exc
    if received_at.tzinfo is None:
        received_at = received_at.replace(tzinfo=UTC)
    return ReceivedMessage(
        queue_id=envelope["queue_id"],
        mail_from=envelope["mail_from"],
        rcpt_tos=tuple(envelope["rcpt_tos"]),
        received_at=received_at,
        peer=envelope["peer"],
        raw=raw,
    )
