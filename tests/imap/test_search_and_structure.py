"""SEARCH predicates and MIME structures, without sockets."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from imap.bodystructure import body_structure
from imap.envelope import envelope
from imap.errors import CommandFailed, ProtocolError
from imap.mime import parse
from imap.parser import Tokenizer
from imap.search import Candidate, parse_search

FIXTURES = Path(__file__).parent / "fixtures"
RAW = (
    b"From: Bob <bob@smith.test>\r\nTo: alice@example.com\r\n"
    b"Subject: =?utf-8?q?r=C3=A9sum=C3=A9?= and more\r\n"
    b"Date: Tue, 16 Mar 2010 16:45:32 +0000\r\nX-Tag: blue\r\n\r\nHello world\r\n"
)


def candidate(**overrides) -> Candidate:
    values = dict(
        seq=2,
        uid=20,
        flags=("\\Seen", "$Junk"),
        size=len(RAW),
        internaldate=datetime(2024, 5, 1, 12, tzinfo=UTC),
        recent=False,
        largest_seq=3,
        largest_uid=30,
        load=lambda: RAW,
    )
    values.update(overrides)
    return Candidate(**values)


def query(text: str):
    return parse_search(Tokenizer(text.encode()).tokens())


@pytest.mark.parametrize(
    "criteria, matches",
    [
        ("ALL", True),
        ("SEEN", True),
        ("UNSEEN", False),
        ("KEYWORD $junk", True),
        ("UNKEYWORD $Junk", False),
        ("UNDELETED", True),
        ("SUBJECT RÉSUMÉ", True),
        ('SUBJECT "and more"', True),
        ("FROM smith.test", True),
        ("TO bob", False),
        ("HEADER X-Tag BLUE", True),
        ('HEADER X-Missing ""', False),
        ('HEADER X-Tag ""', True),
        ("BODY world", True),
        ("BODY bob", False),
        ("TEXT bob", True),
        ("LARGER 10", True),
        ("SMALLER 10", False),
        ("SINCE 1-May-2024", True),
        ("BEFORE 1-May-2024", False),
        ("ON 1-May-2024", True),
        ("SENTON 16-Mar-2010", True),
        ("SENTBEFORE 1-Jan-2010", False),
        ("2", True),
        ("1,3:*", False),
        ("UID 15:25", True),
        ("UID *", False),
        ("OR UNSEEN LARGER 10", True),
        ("NOT SEEN", False),
        ("(SEEN LARGER 10000)", False),
        ("CHARSET UTF-8 SUBJECT r", True),
        ("NEW", False),
        ("OLD", True),
    ],
)
def test_search_criteria_table(criteria: str, matches: bool) -> None:
    assert query(criteria).matches(candidate()) is matches


@pytest.mark.parametrize(
    "criteria", ["", "BOGUS", "LARGER x", "SINCE 31-Foo-2020", "OR SEEN"]
)
def test_bad_search_criteria_are_protocol_errors(criteria: str) -> None:
    with pytest.raises(ProtocolError):
        query(criteria)


def test_unknown_charset_is_badcharset() -> None:
    with pytest.raises(CommandFailed) as raised:
        query("CHARSET KOI8-R ALL")
    assert raised.value.code.startswith("BADCHARSET")


def test_flag_only_searches_never_read_the_message() -> None:
    def fail() -> bytes:
        raise AssertionError("the message was read")

    assert query("SEEN UID 20 LARGER 5").matches(candidate(load=fail))


MULTIPART = (
    b"From: Bob Smith <bob@smith.com>\r\nTo: Some One <some@one.com>, foo@foo.com\r\n"
    b"Subject: A multipart message\r\n"
    b'Content-Type: multipart/mixed; boundary="===============1534046211=="\r\n\r\n'
    b"--===============1534046211==\r\n"
    b'Content-Type: text/html; charset="us-ascii"\r\n'
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    b"<html><body>\r\nHere is the first part.\r\n</body></html>\r\n\r\n"
    b"--===============1534046211==\r\n"
    b'Content-Type: text/plain; charset="us-ascii"\r\n'
    b"Content-Transfer-Encoding: 7bit\r\n\r\n"
    b"Here is the second part.\r\n\r\n"
    b"--===============1534046211==--\r\n"
)


def test_body_of_a_multipart_message_counts_sizes_and_lines() -> None:
    assert body_structure(parse(MULTIPART), extended=False) == (
        b'(("text" "html" ("charset" "us-ascii") NIL NIL "quoted-printable" 55 3)'
        b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 26 1) "mixed")'
    )


def test_plain_message_defaults_to_us_ascii_text() -> None:
    message = parse(b"Subject: x\r\n\r\nFoo\r\n")
    assert body_structure(message, extended=True) == (
        b'("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 5 1 NIL NIL NIL NIL)'
    )


def test_envelope_defaults_sender_and_reply_to_to_from() -> None:
    assert envelope(parse(MULTIPART).fields) == (
        b'(NIL "A multipart message" (("Bob Smith" NIL "bob" "smith.com")) '
        b'(("Bob Smith" NIL "bob" "smith.com")) (("Bob Smith" NIL "bob" "smith.com")) '
        b'(("Some One" NIL "some" "one.com")(NIL NIL "foo" "foo.com")) NIL NIL NIL NIL)'
    )


def test_broken_multipart_degrades_to_one_text_part() -> None:
    message = parse(b"Content-Type: multipart/mixed\r\n\r\nno boundary here\r\n")
    assert body_structure(message, extended=False).startswith(b'("text" "plain"')
