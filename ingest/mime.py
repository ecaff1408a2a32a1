"""Parse raw RFC 822 bytes into a :class:`ParsedMessage`; never raises.

Mail in the wild is broken in every way a parser can imagine: missing
headers, bare LF line ends, an mbox ``From`` line in front, charsets that
do not exist, base64 that does not decode, boundaries that never close. This
module repairs what it can, records the repair in ``defects`` and always
returns a record. It sits on the pipeline's hot path, so it uses the
stdlib's fast ``compat32`` parser and decodes headers itself.
"""

from __future__ import annotations

import binascii
import codecs
import hashlib
import logging
import re
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from functools import lru_cache

from selectolax.lexbor import LexborHTMLParser

from ingest.types import Attachment, ParsedMessage

log = logging.getLogger("mailray.ingest")

MAX_DEPTH = 32
"""Deeper MIME nesting than this is not walked (a defect is recorded)."""

_ENCODED_WORD = re.compile(
    r"=\?([^?\s]{1,75})\?([bBqQ])\?([^?]*)\?=(?:[ \t\r\n]+(?==\?))?"
)
_FOLD = re.compile(r"\r?\n[ \t]*")

# Labels seen in real mail that Python does not know, or knows too narrowly.
_CHARSET_ALIASES = {
    "unknown-8bit": "utf-8",
    "x-unknown": "utf-8",
    "unknown": "utf-8",
    "default": "utf-8",
    "x-user-defined": "cp1252",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "ascii",
    "ansi_x3.4-1968": "ascii",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "euc-kr": "cp949",
    "shift-jis": "cp932",
    "shift_jis": "cp932",
    "x-sjis": "cp932",
    "windows-874": "cp874",
    "utf8": "utf-8",
    "x-mac-roman": "mac-roman",
}


@lru_cache(maxsize=256)
def _codec(label: str | None) -> str | None:
    """The Python text codec for a charset label, or None when unusable."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    name = _CHARSET_ALIASES.get(name, name)
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    # Only real text encodings: not rot13, zlib, base64, unicode_escape, ...
    if not getattr(info, "_is_text_encoding", True) or "escape" in info.name:
        return None
    return info.name


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, bool]:
    """Text from bytes in a declared charset; True when it had to fall back.

    The declared charset wins when the bytes are valid in it; mislabelled
    or unlabelled text is tried as UTF-8, then as Windows-1252, which maps
    almost every byte and is what mislabelled Western mail usually is.
    """
    codec = _codec(charset)
    if codec is not None:
        try:
            return data.decode(codec), False
        except (UnicodeDecodeError, LookupError):
            pass
    try:
        return data.decode("utf-8"), codec is None and charset is not None
    except UnicodeDecodeError:
        pass
    if codec is not None and codec not in ("ascii", "utf-8"):
        return data.decode(codec, errors="replace"), True
    return data.decode("cp1252", errors="replace"), True


def _raw_header_bytes(value: str) -> bytes:
    # compat32 keeps undecodable header bytes as surrogate escapes.
    return value.encode("utf-8", errors="surrogateescape")


def _decode_word(charset: str, encoding: str, text: str) -> str:
    charset = charset.partition("*")[0]  # RFC 2231 language suffix
    try:
        if encoding in "bB":
            text = text.strip()
            data = binascii.a2b_base64(text + "=" * (-len(text) % 4))
        else:
            data = binascii.a2b_qp(text.encode("ascii", "replace"), header=True)
    except (binascii.Error, ValueError):
        return text
    return decode_bytes(data, charset)[0]


def decode_header(value: str | None) -> str:
    """A header value as text: unfolded, RFC 2047 words and 8-bit decoded."""
    if not value:
        return ""
    if not value.isascii():
        value = decode_bytes(_raw_header_bytes(value), None)[0]
    value = _FOLD.sub(" ", value)
    if "=?" in value:
        value = _ENCODED_WORD.sub(lambda m: _decode_word(*m.groups()), value)
    return value.strip()


def html_to_text(html: str) -> str:
    """Visible text of an HTML document; scripts and styles dropped."""
    try:
        tree = LexborHTMLParser(html)
        tree.strip_tags(["script", "style", "head", "title", "noscript"])
        root = tree.body or tree.root
        if root is None:
            return ""
        return root.text(separator=" ", strip=False)
    except Exception:  # selectolax raises bare errors on pathological input
        log.debug("html parse failed; falling back to tag stripping")
        return re.sub(r"<[^>]*>", " ", html)


class _Walk:
    """What one pass over the MIME tree collects."""

    __slots__ = ("attachments", "defects", "html", "plain")

    def __init__(self) -> None:
        self.plain: list[str] = []
        self.html: list[str] = []
        self.attachments: list[Attachment] = []
        self.defects: list[str] = []


def _header(msg: Message, name: str) -> str:
    for key, value in msg.raw_items():
        if key.lower() == name:
            return value if isinstance(value, str) else str(value)
    return ""


def _headers(msg: Message, name: str) -> list[str]:
    return [
        v if isinstance(v, str) else str(v)
        for k, v in msg.raw_items()
        if k.lower() == name
    ]


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:  # malformed RFC 2231 parameters
        return None
    if not name:
        return None
    return decode_header(str(name)) or None


def _disposition(part: Message) -> str:
    value = _header(part, "content-disposition")
    return value.split(";", 1)[0].strip().lower()


def _payload_bytes(part: Message, walk: _Walk) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:  # a defect the stdlib did not anticipate
        walk.defects.append("PayloadDecodeError")
        data = None
    if data is None:
        raw = part.get_payload()
        data = _raw_header_bytes(raw) if isinstance(raw, str) else b""
    return data


def _part_text(part: Message, data: bytes, walk: _Walk) -> str:
    text, fell_back = decode_bytes(data, part.get_param("charset") or None)
    if fell_back:
        walk.defects.append("CharsetFallback")
    return text


def _add_attachment(part: Message, ctype: str, data: bytes, walk: _Walk) -> None:
    walk.attachments.append(
        Attachment(
            sha256=hashlib.sha256(data).hexdigest(),
            filename=_filename(part),
            content_type=ctype,
            size=len(data),
            payload=data,
        )
    )


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "text/plain"


def _walk(part: Message, walk: _Walk, depth: int) -> None:
    if depth > MAX_DEPTH:
        walk.defects.append("NestingTooDeep")
        return
    walk.defects.extend(type(d).__name__ for d in getattr(part, "defects", ()))
    ctype = _content_type(part)
    payload = part.get_payload()

    if isinstance(payload, list):
        children = [c for c in payload if isinstance(c, Message)]
        if ctype == "multipart/alternative" and children:
            _walk_alternative(children, walk, depth)
            return
        for child in children:
            _walk(child, walk, depth + 1)
        return

    data = _payload_bytes(part, walk)
    disposition = _disposition(part)
    is_body = ctype in ("text/plain", "text/html") or ctype.startswith("multipart/")
    if is_body and disposition != "attachment" and _filename(part) is None:
        text = _part_text(part, data, walk)
        if ctype == "text/html":
            walk.html.append(html_to_text(text))
        else:
            walk.plain.append(text)
        return
    if data or disposition == "attachment":
        _add_attachment(part, ctype, data, walk)


def _walk_alternative(children: list[Message], walk: _Walk, depth: int) -> None:
    """Take one rendering: the plain one when it says something, else HTML."""
    trials = []
    for child in children:
        trial = _Walk()
        _walk(child, trial, depth + 1)
        walk.attachments.extend(trial.attachments)
        walk.defects.extend(trial.defects)
        trials.append(trial)
    for trial in trials:
        if any(s.strip() for s in trial.plain):
            walk.plain.extend(trial.plain)
            return
    for trial in trials:
        if any(s.strip() for s in trial.html):
            walk.html.extend(trial.html)
            return


def _strip_mbox_line(raw: bytes) -> tuple[bytes, bool]:
    if raw.startswith(b"From "):
        end = raw.find(b"\n")
        return (raw[end + 1 :] if end >= 0 else b""), True
    return raw, False


def _addresses(values: list[str]) -> list[tuple[str, str]]:
    if not values:
        return []
    try:
        pairs = getaddresses([decode_header(v) for v in values])
    except Exception:
        return []
    return [(n, a) for n, a in pairs if a and "@" in a]


def _date_utc(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _from_parts(value: str) -> tuple[str, str]:
    name, address = parseaddr(value)
    domain = (
        address.rpartition("@")[2].strip().strip(">").lower() if "@" in address else ""
    )
    return name.strip().strip("\"'").strip(), domain


def _parse(raw: bytes) -> ParsedMessage:
    raw, had_mbox_line = _strip_mbox_line(raw)
    msg = message_from_bytes(raw, policy=compat32)
    walk = _Walk()
    if had_mbox_line:
        walk.defects.append("MboxFromLine")
    _walk(msg, walk, 0)

    from_ = decode_header(_header(msg, "from"))
    from_name, from_domain = _from_parts(from_)
    to_values = _headers(msg, "to")
    cc_values = _headers(msg, "cc")
    date = decode_header(_header(msg, "date"))
    plain = "\n".join(walk.plain).strip()
    html = "\n".join(walk.html).strip()
    return ParsedMessage(
        subject=decode_header(_header(msg, "subject")),
        from_=from_,
        to=decode_header(", ".join(to_values)),
        cc=decode_header(", ".join(cc_values)),
        date=date,
        message_id=decode_header(_header(msg, "message-id")),
        in_reply_to=decode_header(_header(msg, "in-reply-to")),
        from_name=decode_header(from_name),
        from_domain=from_domain,
        to_count=len(_addresses(to_values)),
        cc_count=len(_addresses(cc_values)),
        text="\n".join(s for s in (plain, html) if s),
        html_only=bool(html) and not plain,
        attachments=tuple(walk.attachments),
        defects=tuple(dict.fromkeys(walk.defects)),
        date_utc=_date_utc(date),
    )


def parse_message(raw: bytes) -> ParsedMessage:
    """Parse raw message bytes; any input yields a record, never an exception.

    A message the parser cannot make sense of at all still comes back, with
    its bytes as text and the failure named in ``defects``.
    """
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise TypeError(f"raw must be bytes, not {type(raw).__name__}")
    raw = bytes(raw)
    try:
        return _parse(raw)
    except RecursionError:
        reason = "NestingTooDeep"
    except Exception as exc:  # the promise: broken mail never stops the pipeline
        reason = f"ParseError:{type(exc).__name__}"
    log.warning("parse failed (%s); keeping the bytes as text", reason)
    return ParsedMessage(
        subject="",
        from_="",
        to="",
        cc="",
        date="",
        message_id="",
        in_reply_to="",
        from_name="",
        from_domain="",
        to_count=0,
        cc_count=0,
        text=decode_bytes(raw, None)[0],
        html_only=False,
        attachments=(),
        defects=(reason,),
    )
