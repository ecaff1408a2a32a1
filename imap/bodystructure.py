"""BODY and BODYSTRUCTURE (RFC 3501 7.4.2) from a :class:`imap.mime.Part`."""

from __future__ import annotations

from imap import wire
from imap.envelope import envelope, raw_value
from imap.mime import Part, line_count


def body_structure(part: Part, extended: bool) -> bytes:
    """BODYSTRUCTURE when ``extended``, else the shorter BODY form."""
    maintype, subtype = part.content_type
    if part.children:
        items = [body_structure(child, extended) for child in part.children]
        out = b"(" + b"".join(items) + b" " + wire.string(subtype)
        if extended:
            out += b" " + _params(part) + b" " + _disposition(part)
            out += (
                b" "
                + _language(part)
                + b" "
                + wire.string(raw_value(part.fields, "Content-Location"))
            )
        return out + b")"

    encoding = raw_value(part.fields, "Content-Transfer-Encoding") or b"7BIT"
    items = [
        wire.string(maintype),
        wire.string(subtype),
        _params(part),
        wire.string(raw_value(part.fields, "Content-ID")),
        wire.string(raw_value(part.fields, "Content-Description")),
        wire.string(encoding),
        wire.number(len(part.body)),
    ]
    if part.message is not None:
        items.append(envelope(part.message.fields))
        items.append(body_structure(part.message, extended))
        items.append(wire.number(line_count(part.body)))
    elif maintype == "text":
        items.append(wire.number(line_count(part.body)))
    if extended:
        items.extend(
            [
                wire.string(raw_value(part.fields, "Content-MD5")),
                _disposition(part),
                _language(part),
                wire.string(raw_value(part.fields, "Content-Location")),
            ]
        )
    return wire.plist(items)


def _params(part: Part) -> bytes:
    params = (
        [(key, value) for key, value in part.params() if key.lower() != "boundary"]
        if not part.children
        else part.params()
    )
    if not params:
        return wire.NIL
    flat = []
    for key, value in params:
        flat.append(wire.string(key))
        flat.append(wire.string(value.encode("utf-8", "surrogateescape")))
    return wire.plist(flat)


def _disposition(part: Part) -> bytes:
    value = part.fields.get("Content-Disposition")
    if value is None:
        return wire.NIL
    kind = str(value).split(";", 1)[0].strip() or "attachment"
    params = part.fields.get_params(header="Content-Disposition") or []
    flat = []
    for key, param in params[1:]:
        if isinstance(param, tuple):
            param = param[2]
        flat.append(wire.string(key))
        flat.append(wire.string(str(param).encode("utf-8", "surrogateescape")))
    return wire.plist([wire.string(kind), wire.plist(flat) if flat else wire.NIL])


def _language(part: Part) -> bytes:
    value = raw_value(part.fields, "Content-Language")
    if not value:
        return wire.NIL
    return wire.plist([wire.string(v.strip()) for v in value.split(b",") if v.strip()])
