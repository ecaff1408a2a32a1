"""A MIME part tree over the raw bytes, with exact byte slices.

IMAP serves sections (``BODY[1.2.MIME]``, ``BODY[TEXT]``) byte for byte
and computes sizes and line counts from them, so parts are slices of the
stored message, never re-serialised. Header fields are read with the
standard library; broken MIME degrades to a single text part.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from functools import cached_property

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_PARSER = BytesHeaderParser(policy=compat32)
_MAX_DEPTH = 32


def split_header(raw: bytes) -> tuple[bytes, bytes]:
    """The header block (with its blank line) and the body."""
    if raw.startswith(b"\r\n"):
        return b"\r\n", raw[2:]
    if raw.startswith(b"\n"):
        return b"\n", raw[1:]
    match = _HEADER_END.search(raw)
    if match is None:
        return raw, b""
    return raw[: match.end()], raw[match.end() :]


@dataclass
class Part:
    """One MIME entity: a header block and a body, both raw bytes."""

    header: bytes
    body: bytes
    default_type: str = "text/plain"
    children: list[Part] = field(default_factory=list)
    message: Part | None = None
    """The encapsulated message of a message/rfc822 part."""

    @cached_property
    def fields(self) -> Message:
        return _PARSER.parsebytes(self.header)

    @property
    def content_type(self) -> tuple[str, str]:
        value = self.fields.get("Content-Type")
        full = self.default_type if value is None else self.fields.get_content_type()
        maintype, _, subtype = full.partition("/")
        return maintype, subtype or "plain"

    def params(self) -> list[tuple[str, str]]:
        """Content-Type parameters other than the type itself."""
        if self.fields.get("Content-Type") is None:
            return [("charset", "us-ascii")] if self.content_type[0] == "text" else []
        found = self.fields.get_params(header="Content-Type") or []
        out = []
        for key, value in found[1:]:
            if isinstance(value, tuple):
                value = value[2]
            out.append((key, _text(value)))
        return out

    def param(self, name: str) -> str | None:
        for key, value in self.params():
            if key.lower() == name:
                return value
        return None


def _text(value: object) -> str:
    return value if isinstance(value, str) else str(value)


def parse(raw: bytes, default_type: str = "text/plain", depth: int = 0) -> Part:
    """The part tree of a message or entity."""
    header, body = split_header(raw)
    part = Part(header=header, body=body, default_type=default_type)
    if depth >= _MAX_DEPTH:
        return part
    maintype, subtype = part.content_type
    if maintype == "multipart":
        boundary = part.param("boundary")
        child_type = "message/rfc822" if subtype == "digest" else "text/plain"
        chunks = _split_multipart(body, boundary) if boundary else []
        if not chunks:
            # A multipart without usable parts is served as one text part.
            part.default_type = "text/plain"
            part.fields.replace_header("Content-Type", "text/plain")
            return part
        part.children = [parse(chunk, child_type, depth + 1) for chunk in chunks]
    elif (maintype, subtype) == ("message", "rfc822"):
        part.message = parse(body, "text/plain", depth + 1)
    return part


def _split_multipart(body: bytes, boundary: str) -> list[bytes]:
    marker = re.escape(b"--" + boundary.encode("utf-8", "replace"))
    pattern = re.compile(rb"(?:\A|\r?\n)" + marker + rb"(--)?[ \t]*(?:\r?\n|\Z)")
    chunks: list[bytes] = []
    start: int | None = None
    for match in pattern.finditer(body):
        if start is not None:
            chunks.append(body[start : match.start()])
        if match.group(1):
            return chunks
        start = match.end()
    if start is not None:
        chunks.append(body[start:])
    return chunks


def line_count(data: bytes) -> int:
    count = data.count(b"\n")
    if data and not data.endswith(b"\n"):
        count += 1
    return count


def header_fields(header: bytes, names: set[str], negate: bool) -> bytes:
    """The header lines whose field name is (or, negated, is not) in ``names``.

    The result ends with the blank line, as RFC 3501 asks for
    ``HEADER.FIELDS``.
    """
    out: list[bytes] = []
    keep = False
    for line in header.splitlines(keepends=True):
        if line in (b"\r\n", b"\n"):
            break
        if line[:1] in (b" ", b"\t"):
            if keep:
                out.append(line)
            continue
        name = line.split(b":", 1)[0].strip().decode("ascii", "replace").lower()
        keep = (name in names) != negate
        if keep:
            out.append(line if line.endswith(b"\n") else line + b"\r\n")
    out.append(b"\r\n")
    return b"".join(out)


def find_part(message: Part, numbers: list[int]) -> Part | None:
    """The part a section number path names, or ``None``."""
    part = message
    for step, number in enumerate(numbers):
        if step > 0 and part.message is not None:
            part = part.message
        if part.children:
            if not 1 <= number <= len(part.children):
                return None
            part = part.children[number - 1]
        elif number != 1:
            return None
    return part
