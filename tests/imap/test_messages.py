"""FETCH, SEARCH, STORE, COPY, MOVE, APPEND and EXPUNGE through imaplib."""

from __future__ import annotations

import imaplib
import re
from pathlib import Path

import pytest

from tests.imap.conftest import PASSWORD, USER, simple_message
from tests.imap.wire_client import WireClient

FIXTURES = Path(__file__).parent / "fixtures"


def fetch_one(client: imaplib.IMAP4, seq: str, items: str) -> tuple[bytes, bytes]:
    status, data = client.fetch(seq, items)
    assert status == "OK", data
    first = data[0]
    assert isinstance(first, tuple), data
    return first


@pytest.fixture
def nested(imap_server, client) -> bytes:
    raw = (FIXTURES / "nested.eml").read_bytes()
    imap_server.deliver(raw)
    client.select("INBOX")
    return raw


def test_rfc822_size_is_the_byte_length_of_body(nested, client) -> None:
    head, body = fetch_one(client, "1", "(RFC822.SIZE BODY.PEEK[])")
    size = int(re.search(rb"RFC822.SIZE (\d+)", head).group(1))
    assert body == nested
    assert size == len(nested)


def test_body_sets_seen_and_peek_does_not(nested, client) -> None:
    fetch_one(client, "1", "(BODY.PEEK[TEXT])")
    _, data = client.fetch("1", "(FLAGS)")
    assert b"\\Seen" not in data[0]
    head, _ = fetch_one(client, "1", "(BODY[TEXT])")
    assert b"\\Seen" in head
    assert client.search(None, "UNSEEN")[1] == [b""]


def test_header_sections(nested, client) -> None:
    _, fields = fetch_one(client, "1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT CC)])")
    assert fields == (
        b'Cc: "Doe, Jane" <jane@doe.test>\r\n'
        b"Subject: =?utf-8?q?Quarterly_r=C3=A9port?=\r\n\r\n"
    )
    _, rest = fetch_one(client, "1", "(BODY.PEEK[HEADER.FIELDS.NOT (SUBJECT CC)])")
    assert b"Subject" not in rest and rest.startswith(b"From: Bob")
    _, header = fetch_one(client, "1", "(RFC822.HEADER)")
    assert nested.startswith(header) and header.endswith(b"\r\n\r\n")


def test_parts_mime_headers_and_nested_message(nested, client) -> None:
    _, first = fetch_one(client, "1", "(BODY.PEEK[1])")
    assert first == b"The numbers are attached. Caf=C3=A9 tonight?"
    _, mime = fetch_one(client, "1", "(BODY.PEEK[1.MIME])")
    assert mime.startswith(b'Content-Type: text/plain; charset="utf-8"\r\n')
    _, inner_header = fetch_one(client, "1", "(BODY.PEEK[2.HEADER])")
    assert inner_header.startswith(b"From: Carol")
    _, inner_html = fetch_one(client, "1", "(BODY.PEEK[2.2])")
    assert inner_html == b"<p>inner html</p>"
    _, attachment = fetch_one(client, "1", "(BODY.PEEK[3])")
    assert attachment == b"AAECAwQ="


def test_partial_fetch(nested, client) -> None:
    head, data = fetch_one(client, "1", "(BODY.PEEK[]<5.10>)")
    assert b"BODY[]<5>" in head
    assert data == nested[5:15]


def test_envelope_and_bodystructure(nested, client) -> None:
    status, data = client.fetch("1", "(ENVELOPE BODYSTRUCTURE)")
    assert status == "OK"
    text = (
        data[0]
        if isinstance(data[0], bytes)
        else b"".join(
            part if isinstance(part, bytes) else b"".join(part) for part in data
        )
    )
    assert b'"=?utf-8?q?Quarterly_r=C3=A9port?="' in text
    assert b'(("Bob Smith" NIL "bob" "smith.test"))' in text
    assert b'("Doe, Jane" NIL "jane" "doe.test")' in text
    assert b'"<nested-1@smith.test>"' in text
    assert b'"message" "rfc822"' in text
    assert b'"alternative" ("boundary" "inner")' in text
    assert b'"mixed" ("boundary" "outer")' in text
    assert b'("attachment" ("filename" "data.bin"))' in text


def test_search_criteria(imap_server, client) -> None:
    imap_server.deliver(simple_message("alpha", "small\r\n"))
    imap_server.deliver(simple_message("beta", "x" * 5000 + "\r\n"))
    client.select("INBOX")
    client.store("1", "+FLAGS", "(\\Seen \\Deleted)")
    assert client.search(None, "UNSEEN")[1] == [b"2"]
    assert client.search(None, "UNDELETED")[1] == [b"2"]
    assert client.search(None, "HEADER", "Subject", "ALPH")[1] == [b"1"]
    assert client.search(None, "LARGER", "4000")[1] == [b"2"]
    assert client.search(None, "SMALLER", "4000")[1] == [b"1"]
    assert client.search(None, "OR", "SUBJECT", "alpha", "SUBJECT", "beta")[1] == [
        b"1 2"
    ]
    assert client.search(None, "NOT", "SUBJECT", "alpha")[1] == [b"2"]
    assert client.search(None, "SENTON", "16-Mar-2010")[1] == [b"1 2"]
    assert client.search(None, "SINCE", "1-Jan-2020", "2:*")[1] == [b"2"]
    assert client.search(None, "BEFORE", "1-Jan-2020")[1] == [b""]
    assert client.search(None, "BODY", "SMALL")[1] == [b"1"]
    assert client.uid("SEARCH", None, "UID", "2:*")[1] == [b"2"]


def test_search_finds_just_appended_mail_and_utf8_charset(imap_server, client) -> None:
    client.select("INBOX")
    client.append("INBOX", None, None, simple_message("caf\u00e9 menu"))
    status, data = client.uid("SEARCH", "CHARSET", "UTF-8", "SUBJECT", "caf")
    assert (status, data) == ("OK", [b"1"])


def test_store_flags_and_keywords(imap_server, client) -> None:
    imap_server.deliver(simple_message())
    client.select("INBOX")
    _, data = client.store("1", "+FLAGS", "(\\Flagged $Label1)")
    assert b"\\Flagged" in data[0] and b"$Label1" in data[0]
    _, data = client.store("1", "-FLAGS.SILENT", "($Label1)")
    assert data == [None]
    _, data = client.fetch("1", "(FLAGS)")
    assert b"$Label1" not in data[0] and b"\\Flagged" in data[0]


def test_append_copy_move_with_uidplus_codes(imap_server, client) -> None:
    client.create("Archive")
    status, data = client.append("INBOX", "(\\Seen)", None, simple_message("a"))
    assert re.match(rb"\[APPENDUID \d+ 1\]", data[0])
    client.append("INBOX", None, None, simple_message("b"))

    wire = WireClient(imap_server.port)
    wire.send(f'l LOGIN "{USER}" "{PASSWORD}"\r\ns SELECT INBOX\r\n'.encode())
    wire.until_tagged(b"s")
    wire.send(b"c UID COPY 1:2 Archive\r\n")
    assert re.match(rb"c OK \[COPYUID \d+ 1:2 1:2\]", wire.until_tagged(b"c")[-1])
    wire.send(b"m UID MOVE 2 Archive\r\n")
    lines = wire.until_tagged(b"m")
    assert re.match(rb"\* OK \[COPYUID \d+ 2 3\]", lines[0])
    assert lines[1:] == [b"* 2 EXPUNGE", b"m OK UID MOVE completed"]

    client.select("INBOX")
    assert client.search(None, "ALL")[1] == [b"1"]
    assert client.status("Archive", "(MESSAGES)")[1] == [b'"Archive" (MESSAGES 3)']
    status, data = client.append("NoSuchBox", None, None, simple_message())
    assert status == "NO" and b"TRYCREATE" in data[0]


def test_expunge_and_uid_expunge(imap_server, client) -> None:
    for subject in ("one", "two", "three"):
        imap_server.deliver(simple_message(subject))
    client.select("INBOX")
    client.store("1:3", "+FLAGS.SILENT", "(\\Deleted)")
    status, data = client.uid("EXPUNGE", "2")
    assert status == "OK"
    assert client.search(None, "ALL")[1] == [b"1 2"]
    status, data = client.expunge()
    # imaplib keeps the UID EXPUNGE's "* 2 EXPUNGE" too, then 2 and 1.
    assert (status, data) == ("OK", [b"2", b"2", b"1"])
    assert client.search(None, "ALL")[1] == [b""]


def test_close_after_examine_expunges_nothing(imap_server, client) -> None:
    imap_server.deliver(simple_message())
    client.select("INBOX")
    client.store("1", "+FLAGS", "(\\Deleted)")
    client.select("INBOX", readonly=True)
    status, _ = client.store("1", "+FLAGS", "(\\Flagged)")
    assert status == "NO"
    client.close()
    assert client.status("INBOX", "(MESSAGES)")[1] == [b'"INBOX" (MESSAGES 1)']
    client.select("INBOX")
    client.close()
    assert client.status("INBOX", "(MESSAGES)")[1] == [b'"INBOX" (MESSAGES 0)']
