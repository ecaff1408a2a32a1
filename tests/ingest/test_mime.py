"""parse_message: decoding, structure, and never raising on broken mail."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

from ingest.mime import decode_bytes, decode_header, parse_message

MAIL = Path(__file__).resolve().parent.parent / "fixtures" / "mail"


def _parse(name: str):
    return parse_message((MAIL / name).read_bytes())


def test_rfc2047_headers_and_quoted_printable_latin1_body_are_decoded():
    parsed = _parse("latin1_qp.eml")

    assert parsed.subject == "Café à midi"
    assert parsed.from_name == "René Dupré"
    assert parsed.from_domain == "example.org"
    assert (parsed.to_count, parsed.cc_count) == (2, 1)
    assert "café à midi" in parsed.text
    assert parsed.date_utc is not None and parsed.date_utc.hour == 8
    assert parsed.message_id == "<abc@example.org>"


def test_base64_html_only_body_becomes_visible_text():
    parsed = _parse("html_only_b64.eml")

    assert parsed.html_only
    assert "Save 90% today" in " ".join(parsed.text.split())
    assert "alert" not in parsed.text
    assert "color" not in parsed.text


def test_nested_alternative_takes_plain_once_and_collects_attachment():
    parsed = _parse("nested_alternative.eml")

    assert parsed.text.count("Friday") == 1
    assert not parsed.html_only
    [pdf] = parsed.attachments
    assert pdf.filename == "menu.pdf"
    assert pdf.content_type == "application/pdf"
    assert pdf.payload.startswith(b"%PDF-1.4")
    assert pdf.size == len(pdf.payload)
    assert pdf.sha256 == hashlib.sha256(pdf.payload).hexdigest()
    assert "PDF" not in parsed.text


def test_attachment_only_message_has_no_text_and_an_rfc2231_filename():
    parsed = _parse("attachment_only.eml")

    assert parsed.text == ""
    [image] = parsed.attachments
    assert image.filename == "scän.png"
    assert image.payload.startswith(b"\x89PNG")


def test_unknown_charset_falls_back_and_mbox_line_is_dropped():
    parsed = _parse("bogus_charset_bare_lf.eml")

    assert parsed.subject == "café"
    assert parsed.text == "café and more text"
    assert parsed.from_name == "Weird"
    assert "MboxFromLine" in parsed.defects
    assert "CharsetFallback" in parsed.defects


@pytest.mark.parametrize(
    ("data", "charset", "expected"),
    [
        (b"caf\xc3\xa9", "utf-8", "café"),
        (b"caf\xe9", "iso-8859-1", "café"),
        (b"caf\xe9", "us-ascii", "café"),  # mislabelled 8-bit
        (b"caf\xc3\xa9", None, "café"),
        (b"caf\xe9", "rot13", "café"),  # not a text codec
        (b"abc", "unicode-escape", "abc"),
        (b"\x80\x81", "no-such", "€\ufffd"),
        (b"\xc4\xe3\xba\xc3", "gb2312", "你好"),
    ],
)
def test_decode_bytes_table(data, charset, expected):
    assert decode_bytes(data, charset)[0] == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=?UTF-8?Q?a_b?= =?UTF-8?Q?c?=", "a bc"),
        ("=?iso-8859-1?B?Y2Fm6Q==?=", "café"),
        ("=?utf-8?B?Y2Fmw6k?=", "café"),  # missing padding
        ("=?bogus?Q?x?=", "x"),
        ("plain\r\n folded", "plain folded"),
        ("=?utf-8?Q?broken", "=?utf-8?Q?broken"),
        ("", ""),
    ],
)
def test_decode_header_table(value, expected):
    assert decode_header(value) == expected


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff" * 100,
        b"no headers at all, just text",
        b"Content-Type: multipart/mixed; boundary=x\n\n--x\n--x",
        b"Content-Type: multipart/mixed\n\nno boundary",
        b"Content-Transfer-Encoding: base64\n\n!!!not base64!!!",
        b"Subject: =?utf-8?B?####?=\n\nx",
        b'Content-Type: text/plain; charset="\n\nx',
        b"Content-Type: multipart/mixed; boundary=a\n\n"
        + b"--a\nContent-Type: multipart/mixed; boundary=a\n\n" * 200,
    ],
)
def test_broken_input_yields_a_record(raw):
    parsed = parse_message(raw)

    assert isinstance(parsed.text, str)


def test_random_garbage_never_raises():
    rng = random.Random(7)
    seed = (MAIL / "nested_alternative.eml").read_bytes()
    for _ in range(300):
        data = bytearray(seed)
        for _ in range(rng.randint(1, 40)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        cut = rng.randrange(len(data))
        parse_message(bytes(data[:cut]))


def test_non_bytes_input_is_a_type_error():
    with pytest.raises(TypeError, match="raw"):
        parse_message("text")  # type: ignore[arg-type]


@pytest.mark.corpus
def test_every_mime_torture_message_parses(mime_torture):
    files = [p for p in mime_torture.rglob("*.eml")]
    assert len(files) > 250
    for path in files:
        parsed = parse_message(path.read_bytes())
        assert isinstance(parsed.text, str), path


@pytest.mark.corpus
def test_every_spamassassin_message_parses_with_text(spamassassin):
    for path in spamassassin.rglob("*"):
        if path.is_file():
            parsed = parse_message(path.read_bytes())
            assert parsed.text or parsed.attachments or parsed.subject, path
