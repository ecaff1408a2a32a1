"""FETCH: which attributes a client asked for, and their values.

:func:`parse_items` reads the attribute list (tested without sockets);
:func:`render` builds one message's ``(...)`` response from its metadata
row and, only when an attribute needs them, its raw bytes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from imap import wire
from imap.bodystructure import body_structure
from imap.envelope import envelope
from imap.errors import ProtocolError
from imap.metadata import MailRow
from imap.mime import Part, find_part, header_fields, parse, split_header
from imap.parser import Token

_MACROS = {
    "ALL": ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"],
    "FAST": ["FLAGS", "INTERNALDATE", "RFC822.SIZE"],
    "FULL": ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"],
}
_SIMPLE = frozenset(
    {
        "UID",
        "FLAGS",
        "INTERNALDATE",
        "RFC822.SIZE",
        "ENVELOPE",
        "BODYSTRUCTURE",
        "BODY",
        "RFC822",
        "RFC822.HEADER",
        "RFC822.TEXT",
    }
)
_CONTENT = frozenset(
    {"ENVELOPE", "BODYSTRUCTURE", "BODY", "RFC822", "RFC822.HEADER", "RFC822.TEXT"}
)
_SECTION_ITEM = re.compile(
    r"^(BODY|BODY\.PEEK|BINARY\.PEEK|BINARY)\[(.*)\](?:<(\d+)(?:\.(\d+))?>)?$",
    re.IGNORECASE | re.DOTALL,
)
_SECTION = re.compile(
    r"^((?:[1-9]\d*\.)*[1-9]\d*)?\.?"
    r"(HEADER\.FIELDS\.NOT|HEADER\.FIELDS|HEADER|TEXT|MIME)?"
    r"(?:\s*\((.*)\))?$",
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True, slots=True)
class Section:
    """``BODY[<section>]<origin.count>`` as asked."""

    label: str
    """The section text echoed in the response (``HEADER.FIELDS (FROM)``)."""
    parts: tuple[int, ...]
    kind: str
    """"" (whole part), HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT, TEXT or MIME."""
    fields: frozenset[str]
    origin: int | None
    count: int | None
    peek: bool


@dataclass(frozen=True, slots=True)
class FetchItems:
    simple: tuple[str, ...]
    sections: tuple[Section, ...]

    @property
    def needs_content(self) -> bool:
        return bool(self.sections) or any(item in _CONTENT for item in self.simple)

    @property
    def sets_seen(self) -> bool:
        return any(not s.peek for s in self.sections) or any(
            item in ("RFC822", "RFC822.TEXT") for item in self.simple
        )


def parse_items(token: Token) -> FetchItems:
    """The attribute list of FETCH: a macro, one attribute or a list."""
    tokens = token if isinstance(token, list) else [token]
    if not tokens:
        raise ProtocolError("empty FETCH attribute list")
    simple: list[str] = []
    sections: list[Section] = []
    for item in tokens:
        if not isinstance(item, str):
            raise ProtocolError("FETCH attributes must be atoms")
        upper = item.upper()
        if upper in _MACROS and not isinstance(token, list):
            simple.extend(_MACROS[upper])
        elif upper in _SIMPLE:
            simple.append(upper)
        elif upper == "BINARY.SIZE" or upper.startswith("BINARY"):
            raise ProtocolError(f"unsupported FETCH attribute {item}")
        else:
            sections.append(_section(item))
    return FetchItems(tuple(dict.fromkeys(simple)), tuple(sections))


def _section(item: str) -> Section:
    match = _SECTION_ITEM.match(item)
    if match is None:
        raise ProtocolError(f"unknown FETCH attribute {item}")
    inner = match.group(2).strip()
    spec = _SECTION.match(inner)
    if spec is None:
        raise ProtocolError(f"bad section {inner!r}")
    numbers, kind, fields_text = spec.groups()
    kind = (kind or "").upper()
    if fields_text is not None and not kind.startswith("HEADER.FIELDS"):
        raise ProtocolError(f"bad section {inner!r}")
    if kind.startswith("HEADER.FIELDS") and not fields_text:
        raise ProtocolError("HEADER.FIELDS needs a list of field names")
    if kind == "MIME" and not numbers:
        raise ProtocolError("MIME needs a part number")
    names = frozenset(
        name.strip('"').lower() for name in (fields_text or "").split() if name
    )
    label = (numbers or "") + ("." if numbers and kind else "") + kind
    if fields_text is not None:
        label += " (" + " ".join(fields_text.split()) + ")"
    origin = int(match.group(3)) if match.group(3) is not None else None
    count = int(match.group(4)) if match.group(4) is not None else None
    if origin is not None and count is None:
        raise ProtocolError("a partial fetch needs <origin.count>")
    return Section(
        label=label,
        parts=tuple(int(n) for n in numbers.split(".")) if numbers else (),
        kind=kind,
        fields=names,
        origin=origin,
        count=count,
        peek=match.group(1).upper().endswith(".PEEK"),
    )


def section_bytes(raw: bytes, message: Callable[[], Part], section: Section) -> bytes:
    """The bytes a section names; empty when the part does not exist."""
    if not section.parts:
        if section.kind == "":
            return raw
        header, body = split_header(raw)
        if section.kind == "TEXT":
            return body
        if section.kind == "HEADER":
            return header
        return header_fields(header, set(section.fields), section.kind.endswith("NOT"))

    part = find_part(message(), list(section.parts))
    if part is None:
        return b""
    if section.kind == "":
        return part.body
    if section.kind == "MIME":
        return part.header
    inner = part.message
    if inner is None:
        return b""
    if section.kind == "TEXT":
        return inner.body
    if section.kind == "HEADER":
        return inner.header
    return header_fields(
        inner.header, set(section.fields), section.kind.endswith("NOT")
    )


def _partial(data: bytes, section: Section) -> tuple[bytes, str]:
    if section.origin is None:
        return data, ""
    end = section.origin + (section.count or 0)
    return data[section.origin : end], f"<{section.origin}>"


def flags_list(flags: tuple[str, ...], recent: bool) -> bytes:
    items = [flag.encode("utf-8", "replace") for flag in flags]
    if recent:
        items.append(b"\\Recent")
    return wire.plist(items)


def render(
    seq: int,
    row: MailRow,
    items: FetchItems,
    *,
    recent: bool,
    with_uid: bool,
    raw: bytes | None,
) -> bytes:
    """``* seq FETCH (...)`` for one message, CRLF terminated."""
    parsed: Part | None = None

    def message() -> Part:
        nonlocal parsed
        if parsed is None:
            parsed = parse(raw or b"")
        return parsed

    out: list[bytes] = []
    simple = list(items.simple)
    if with_uid and "UID" not in simple:
        simple.insert(0, "UID")
    for item in simple:
        if item == "UID":
            value = wire.number(row.uid)
        elif item == "FLAGS":
            value = flags_list(row.flags, recent)
        elif item == "INTERNALDATE":
            value = wire.internaldate(row.internaldate)
        elif item == "RFC822.SIZE":
            value = wire.number(row.size)
        elif item == "ENVELOPE":
            value = envelope(message().fields)
        elif item == "BODYSTRUCTURE":
            value = body_structure(message(), extended=True)
        elif item == "BODY":
            value = body_structure(message(), extended=False)
        elif item == "RFC822":
            value = wire.literal(raw or b"")
        elif item == "RFC822.HEADER":
            value = wire.literal(split_header(raw or b"")[0])
        else:
            value = wire.literal(split_header(raw or b"")[1])
        out.append(item.encode() + b" " + value)
    for section in items.sections:
        data, suffix = _partial(section_bytes(raw or b"", message, section), section)
        name = f"BODY[{section.label}]{suffix}".encode()
        out.append(name + b" " + wire.literal(data))
    return b"* %d FETCH " % seq + wire.plist(out) + b"\r\n"
