"""The IMAP command grammar, tested without sockets.

A command arrives as one byte string: the tag, the command name and its
arguments, with any literals inlined as ``{n}\\r\\n`` (or LITERAL+
``{n+}\\r\\n``) followed by exactly ``n`` bytes. The connection reader
collects that string; :func:`parse_command` turns it into a
:class:`Command` whose arguments are plain Python values:

* an atom (including NIL and flags such as ``\\Seen``) is a ``str``;
* a quoted string or a literal is ``bytes``;
* a parenthesised list is a ``list``.

A fetch attribute such as ``BODY.PEEK[HEADER.FIELDS (FROM)]<0.100>`` stays
one atom: brackets are kept whole, spaces and parentheses inside them
included. Per-command meaning lives with the commands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from imap.errors import ProtocolError

Token = str | bytes | list

# Atom-specials of RFC 3501, less "\\" (flags such as \\Seen are atoms here)
# and the list wildcards "%" and "*" (LIST patterns are atoms too).
_ATOM_SPECIALS = frozenset(b'(){ "]') | frozenset(range(0, 32)) | {127}
_TAG_FORBIDDEN = _ATOM_SPECIALS | frozenset(b"%*\\+")
_LITERAL_AT_END = re.compile(rb"\{(\d{1,20})(\+?)\}\r\n\Z")
_LITERAL_HERE = re.compile(rb"\{(\d{1,20})(\+?)\}\r\n")

UID_COMMANDS = frozenset({"FETCH", "STORE", "SEARCH", "COPY", "MOVE", "EXPUNGE"})


@dataclass(frozen=True, slots=True)
class Command:
    """One parsed client command."""

    tag: str
    name: str
    """Upper case; for ``UID FETCH`` the name is ``FETCH`` and ``uid`` is set."""
    args: tuple[Token, ...]
    uid: bool = False


@dataclass(frozen=True, slots=True)
class LiteralHeader:
    """A line that ends in a literal announcement."""

    size: int
    synchronizing: bool


def literal_at_end(line: bytes) -> LiteralHeader | None:
    """The literal a command line announces at its end, if any."""
    match = _LITERAL_AT_END.search(line)
    if match is None:
        return None
    return LiteralHeader(size=int(match.group(1)), synchronizing=not match.group(2))


def parse_tag(data: bytes) -> str | None:
    """The tag of a (possibly malformed) command, to address a BAD reply."""
    end = data.find(b" ")
    raw = data[:end] if end > 0 else data.rstrip(b"\r\n")
    if not raw or any(b in _TAG_FORBIDDEN for b in raw):
        return None
    return raw.decode("ascii", "replace")


def parse_command(data: bytes) -> Command:
    """Parse one complete command (CRLF terminated, literals inlined)."""
    if not data.endswith(b"\n"):
        raise ProtocolError("command must end with CRLF")
    body = data[:-2] if data.endswith(b"\r\n") else data[:-1]
    tag = parse_tag(body)
    if tag is None:
        raise ProtocolError("missing or invalid tag")
    rest = body[len(tag) :]
    if not rest.startswith(b" ") or len(rest) < 2:
        raise ProtocolError("missing command")

    tokens = Tokenizer(rest[1:]).tokens()
    if not tokens or not isinstance(tokens[0], str):
        raise ProtocolError("missing command")
    name = tokens[0].upper()
    args = tuple(tokens[1:])
    if name != "UID":
        return Command(tag=tag, name=name, args=args)
    if not args or not isinstance(args[0], str) or args[0].upper() not in UID_COMMANDS:
        raise ProtocolError(
            "UID must be followed by FETCH, STORE, SEARCH, COPY, MOVE or EXPUNGE"
        )
    return Command(tag=tag, name=args[0].upper(), args=args[1:], uid=True)


class Tokenizer:
    """Splits the argument part of a command into tokens."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def tokens(self) -> list[Token]:
        out = self._sequence(closing=None)
        if self._pos != len(self._data):
            raise ProtocolError("unexpected ')'")
        return out

    def _sequence(self, closing: int | None) -> list[Token]:
        out: list[Token] = []
        data = self._data
        while True:
            if self._pos >= len(data):
                if closing is not None:
                    raise ProtocolError("unbalanced '('")
                return out
            char = data[self._pos]
            if closing is not None and char == closing:
                self._pos += 1
                return out
            if char == ord(")"):
                if closing is None:
                    return out
                raise ProtocolError("unexpected ')'")
            if char == ord(" "):
                self._pos += 1
                if self._pos < len(data) and data[self._pos] == ord(" "):
                    raise ProtocolError("two spaces in a row")
                continue
            out.append(self._token())

    def _token(self) -> Token:
        char = self._data[self._pos]
        if char == ord("("):
            self._pos += 1
            return self._sequence(closing=ord(")"))
        if char == ord('"'):
            return self._quoted()
        if char == ord("{"):
            return self._literal()
        return self._atom()

    def _quoted(self) -> bytes:
        data = self._data
        pos = self._pos + 1
        out = bytearray()
        while pos < len(data):
            char = data[pos]
            if char == ord("\\"):
                if pos + 1 >= len(data) or data[pos + 1] not in b'"\\':
                    raise ProtocolError("bad escape in quoted string")
                out.append(data[pos + 1])
                pos += 2
                continue
            if char == ord('"'):
                self._pos = pos + 1
                return bytes(out)
            if char in (13, 10):
                raise ProtocolError("line break in quoted string")
            out.append(char)
            pos += 1
        raise ProtocolError("unterminated quoted string")

    def _literal(self) -> bytes:
        match = _LITERAL_HERE.match(self._data, self._pos)
        if match is None:
            raise ProtocolError("malformed literal")
        size = int(match.group(1))
        start = match.end()
        if start + size > len(self._data):
            raise ProtocolError("literal shorter than announced")
        self._pos = start + size
        return self._data[start : self._pos]

    def _atom(self) -> str:
        data = self._data
        start = pos = self._pos
        depth = 0
        while pos < len(data):
            char = data[pos]
            if char == ord("["):
                depth += 1
            elif char == ord("]"):
                if depth == 0:
                    break
                depth -= 1
            elif depth == 0 and char in _ATOM_SPECIALS:
                break
            elif char in (13, 10) or (char < 32 and depth):
                raise ProtocolError("control character in atom")
            pos += 1
        if depth:
            raise ProtocolError("unbalanced '['")
        if pos == start:
            raise ProtocolError(f"unexpected character {chr(data[pos])!r}")
        self._pos = pos
        return data[start:pos].decode("utf-8", "replace")


# Helpers the command modules use to read arguments.


def arity(cmd: Command, minimum: int, maximum: int | None = None) -> None:
    """Check the number of arguments, naming the command in the error."""
    count = len(cmd.args)
    maximum = minimum if maximum is None else maximum
    if count < minimum or count > maximum:
        raise ProtocolError(f"wrong number of arguments for {cmd.name}")


def astring(token: Token, what: str = "argument") -> str:
    """An atom or a string, as text (UTF-8; invalid bytes replaced)."""
    if isinstance(token, bytes):
        return token.decode("utf-8", "replace")
    if isinstance(token, str):
        return token
    raise ProtocolError(f"{what} must be an atom or a string")


def atom(token: Token, what: str = "argument") -> str:
    if not isinstance(token, str):
        raise ProtocolError(f"{what} must be an atom")
    return token


def mailbox_name(token: Token) -> str:
    """A mailbox argument; INBOX in any case is INBOX."""
    name = astring(token, "mailbox")
    if name.upper() == "INBOX":
        return "INBOX"
    if name.upper().startswith("INBOX/"):
        return "INBOX" + name[5:]
    return name


def flag_list(token: Token) -> list[str]:
    """A parenthesised flag list, or a single flag atom."""
    items = token if isinstance(token, list) else [token]
    flags = []
    for item in items:
        flag = atom(item, "flag")
        if flag.startswith("\\"):
            canonical = SYSTEM_FLAGS.get(flag.lower())
            if canonical is None:
                raise ProtocolError(f"unknown system flag {flag}")
            flag = canonical
        flags.append(flag)
    return flags


SYSTEM_FLAGS = {
    f.lower(): f
    for f in ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft", "\\Recent")
}
