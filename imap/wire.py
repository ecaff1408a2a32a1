"""Formatting of server data: strings, lists, NIL, dates."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

_QUOTABLE = frozenset(range(32, 127)) - {ord('"'), ord("\\")}
_MONTHS = [
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
]

NIL = b"NIL"


def string(value: str | bytes | None) -> bytes:
    """An nstring: NIL, a quoted string, or a literal when quoting can't."""
    if value is None:
        return NIL
    data = value.encode("utf-8") if isinstance(value, str) else value
    if len(data) < 1024 and all(b in _QUOTABLE or b in b'"\\' for b in data):
        escaped = data.replace(b"\\", b"\\\\").replace(b'"', b'\\"')
        return b'"' + escaped + b'"'
    return literal(data)


def literal(data: bytes) -> bytes:
    return b"{%d}\r\n" % len(data) + data


def astring(value: str) -> bytes:
    """A mailbox name or other astring, quoted when needed."""
    return string(value)


def plist(items: Iterable[bytes]) -> bytes:
    return b"(" + b" ".join(items) + b")"


def number(value: int) -> bytes:
    return str(int(value)).encode()


def internaldate(value: datetime) -> bytes:
    """``"17-Jul-1996 02:44:25 -0700"``."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    offset = value.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    text = (
        f"{value.day:2d}-{_MONTHS[value.month - 1]}-{value.year:04d} "
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d} "
        f"{sign}{minutes // 60:02d}{minutes % 60:02d}"
    )
    return b'"' + text.encode() + b'"'


def parse_internaldate(text: str) -> datetime:
    """The APPEND date-time argument; raises ValueError when malformed."""
    return datetime.strptime(text.strip(), "%d-%b-%Y %H:%M:%S %z")


def parse_search_date(text: str) -> datetime:
    """A SEARCH date (``1-Feb-1994``), as a naive date at midnight."""
    return datetime.strptime(text, "%d-%b-%Y")
