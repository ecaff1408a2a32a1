"""SEARCH criteria: parsed from tokens into a predicate, tested without sockets.

:func:`parse_search` returns a :class:`Query`; :meth:`Query.matches` runs
on a :class:`Candidate` whose raw bytes are read only when a criterion
needs the header or the text.
"""

from __future__ import annotations

import base64
import binascii
import quopri
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from email.header import decode_header, make_header
from email.message import Message
from email.utils import parsedate_to_datetime

from imap.errors import CommandFailed, ProtocolError
from imap.mime import Part, parse
from imap.parser import Token, astring
from imap.sequence import SequenceSet
from imap.wire import parse_search_date

SUPPORTED_CHARSETS = ("US-ASCII", "UTF-8")


@dataclass
class Candidate:
    """One message as SEARCH sees it."""

    seq: int
    uid: int
    flags: tuple[str, ...]
    size: int
    internaldate: datetime
    recent: bool
    largest_seq: int
    largest_uid: int
    load: Callable[[], bytes]
    _part: Part | None = field(default=None, repr=False)

    def message(self) -> Part:
        if self._part is None:
            self._part = parse(self.load())
        return self._part

    @property
    def fields(self) -> Message:
        return self.message().fields

    def has(self, flag: str) -> bool:
        flag = flag.lower()
        return any(f.lower() == flag for f in self.flags)


Predicate = Callable[[Candidate], bool]


@dataclass(frozen=True)
class Query:
    predicate: Predicate
    needs_content: bool

    def matches(self, candidate: Candidate) -> bool:
        return self.predicate(candidate)


def parse_search(args: tuple[Token, ...] | list[Token]) -> Query:
    """SEARCH arguments (with an optional ``CHARSET`` first) as a query."""
    tokens = list(args)
    if tokens and isinstance(tokens[0], str) and tokens[0].upper() == "CHARSET":
        if len(tokens) < 2:
            raise ProtocolError("CHARSET needs a name")
        charset = astring(tokens[1]).upper()
        if charset not in SUPPORTED_CHARSETS:
            raise CommandFailed(
                f"unsupported charset {charset}",
                "BADCHARSET (" + " ".join(SUPPORTED_CHARSETS) + ")",
            )
        tokens = tokens[2:]
    if not tokens:
        raise ProtocolError("SEARCH needs at least one criterion")
    reader = _Reader(tokens)
    predicates = []
    while not reader.done():
        predicates.append(reader.criterion())
    return Query(_all(predicates), reader.needs_content)


def _all(predicates: list[Predicate]) -> Predicate:
    if len(predicates) == 1:
        return predicates[0]
    return lambda c: all(p(c) for p in predicates)


_FLAG_KEYS = {
    "ANSWERED": ("\\Answered", True),
    "DELETED": ("\\Deleted", True),
    "DRAFT": ("\\Draft", True),
    "FLAGGED": ("\\Flagged", True),
    "SEEN": ("\\Seen", True),
    "UNANSWERED": ("\\Answered", False),
    "UNDELETED": ("\\Deleted", False),
    "UNDRAFT": ("\\Draft", False),
    "UNFLAGGED": ("\\Flagged", False),
    "UNSEEN": ("\\Seen", False),
}
_ADDRESS_KEYS = {"BCC": "Bcc", "CC": "Cc", "FROM": "From", "TO": "To"}


class _Reader:
    def __init__(self, tokens: list[Token]) -> None:
        self._tokens = tokens
        self._pos = 0
        self.needs_content = False

    def done(self) -> bool:
        return self._pos >= len(self._tokens)

    def _next(self, what: str) -> Token:
        if self.done():
            raise ProtocolError(f"SEARCH: missing {what}")
        token = self._tokens[self._pos]
        self._pos += 1
        return token

    def _string(self) -> str:
        return astring(self._next("string"), "search string")

    def _date(self) -> date:
        text = self._string()
        try:
            return parse_search_date(text).date()
        except ValueError as exc:
            raise ProtocolError(f"SEARCH: bad date {text!r}") from exc

    def _number(self) -> int:
        text = self._string()
        if not text.isdigit():
            raise ProtocolError(f"SEARCH: bad number {text!r}")
        return int(text)

    def criterion(self) -> Predicate:
        token = self._next("criterion")
        if isinstance(token, list):
            inner = _Reader(token)
            predicates = []
            while not inner.done():
                predicates.append(inner.criterion())
            if not predicates:
                raise ProtocolError("SEARCH: empty parenthesised list")
            self.needs_content |= inner.needs_content
            return _all(predicates)
        if isinstance(token, bytes):
            raise ProtocolError("SEARCH: a criterion must be an atom")

        key = token.upper()
        if key in _FLAG_KEYS:
            flag, wanted = _FLAG_KEYS[key]
            return lambda c: c.has(flag) == wanted
        if key == "ALL":
            return lambda c: True
        if key in ("NEW", "OLD", "RECENT"):
            if key == "OLD":
                return lambda c: not c.recent
            if key == "RECENT":
                return lambda c: c.recent
            return lambda c: c.recent and not c.has("\\Seen")
        if key in ("KEYWORD", "UNKEYWORD"):
            flag = self._string()
            wanted = key == "KEYWORD"
            return lambda c: c.has(flag) == wanted
        if key == "NOT":
            inner_predicate = self.criterion()
            return lambda c: not inner_predicate(c)
        if key == "OR":
            left = self.criterion()
            right = self.criterion()
            return lambda c: left(c) or right(c)
        if key in ("LARGER", "SMALLER"):
            size = self._number()
            if key == "LARGER":
                return lambda c: c.size > size
            return lambda c: c.size < size
        if key in ("BEFORE", "ON", "SINCE"):
            day = self._date()
            return _date_test(key, day, lambda c: c.internaldate.date())
        if key in ("SENTBEFORE", "SENTON", "SENTSINCE"):
            day = self._date()
            self.needs_content = True
            return _date_test(key[4:], day, _sent_date)
        if key == "UID":
            uids = SequenceSet.parse(self._string())
            return lambda c: uids.contains_uid(c.uid, c.largest_uid)
        if key in _ADDRESS_KEYS or key == "SUBJECT":
            name = _ADDRESS_KEYS.get(key, "Subject")
            needle = self._string().casefold()
            self.needs_content = True
            return lambda c: needle in _header_text(c.fields, name)
        if key == "HEADER":
            name = self._string()
            needle = self._string().casefold()
            self.needs_content = True
            if not needle:
                return lambda c: c.fields.get(name) is not None
            return lambda c: needle in _header_text(c.fields, name)
        if key in ("BODY", "TEXT"):
            needle = self._string().casefold()
            self.needs_content = True
            if key == "BODY":
                return lambda c: needle in _body_text(c.message())
            return lambda c: needle in _whole_text(c)
        if key[:1].isdigit() or key[:1] == "*":
            numbers = SequenceSet.parse(token)
            return lambda c: numbers.contains_uid(c.seq, c.largest_seq)
        raise ProtocolError(f"SEARCH: unknown criterion {token}")


def _date_test(
    relation: str, day: date, value: Callable[[Candidate], date | None]
) -> Predicate:
    def test(candidate: Candidate) -> bool:
        actual = value(candidate)
        if actual is None:
            return False
        if relation == "BEFORE":
            return actual < day
        if relation == "ON":
            return actual == day
        return actual >= day

    return test


def _sent_date(candidate: Candidate) -> date | None:
    value = candidate.fields.get("Date")
    if value is None:
        return None
    try:
        return parsedate_to_datetime(str(value)).date()
    except (TypeError, ValueError, IndexError):
        return None


def _header_text(fields: Message, name: str) -> str:
    values = fields.get_all(name) or []
    return " ".join(_decoded(str(v)) for v in values).casefold()


def _decoded(value: str) -> str:
    try:
        return str(make_header(decode_header(value)))
    except (LookupError, UnicodeError, ValueError, binascii.Error):
        return value


def _body_text(part: Part) -> str:
    if part.children:
        return "\n".join(_body_text(child) for child in part.children)
    if part.message is not None:
        return _body_text(part.message)
    if part.content_type[0] not in ("text", "message"):
        return ""
    data = part.body
    encoding = str(part.fields.get("Content-Transfer-Encoding", "")).strip().lower()
    try:
        if encoding == "base64":
            data = base64.b64decode(data, validate=False)
        elif encoding == "quoted-printable":
            data = quopri.decodestring(data)
    except (ValueError, binascii.Error):
        pass
    charset = part.param("charset") or "utf-8"
    try:
        text = data.decode(charset, "replace")
    except LookupError:
        text = data.decode("utf-8", "replace")
    return text.casefold()


def _whole_text(candidate: Candidate) -> str:
    header = candidate.message().header.decode("utf-8", "replace")
    return _decoded(header).casefold() + "\n" + _body_text(candidate.message())
