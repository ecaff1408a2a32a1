"""The command grammar, without sockets."""

from __future__ import annotations

import pytest

from imap.errors import ProtocolError
from imap.fetch import parse_items
from imap.parser import flag_list, literal_at_end, mailbox_name, parse_command
from imap.sequence import SequenceSet, compress_uids


def test_simple_command_has_tag_name_and_atoms() -> None:
    cmd = parse_command(b"a1 login alice secret\r\n")
    assert (cmd.tag, cmd.name, cmd.args, cmd.uid) == (
        "a1",
        "LOGIN",
        ("alice", "secret"),
        False,
    )


def test_quoted_strings_become_bytes_with_escapes_removed() -> None:
    cmd = parse_command(b'a LOGIN "al ice" "pa\\"ss\\\\"\r\n')
    assert cmd.args == (b"al ice", b'pa"ss\\')


def test_synchronising_and_non_synchronising_literals_are_inlined() -> None:
    cmd = parse_command(b"a LOGIN {5}\r\nalice {6+}\r\nse cr}\r\n")
    assert cmd.args == (b"alice", b"se cr}")


def test_literal_may_contain_crlf_and_parentheses() -> None:
    data = b"a APPEND INBOX (\\Seen) {7}\r\n(x)\r\n)y\r\n"
    cmd = parse_command(data)
    assert cmd.args == ("INBOX", ["\\Seen"], b"(x)\r\n)y")


def test_nested_lists() -> None:
    cmd = parse_command(b't ID ("name" "c" (a b) NIL)\r\n')
    assert cmd.args == ([b"name", b"c", ["a", "b"], "NIL"],)


def test_fetch_section_with_spaces_stays_one_atom() -> None:
    cmd = parse_command(
        b"t UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.10>)\r\n"
    )
    assert cmd.uid and cmd.name == "FETCH"
    assert cmd.args == ("1:*", ["UID", "BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.10>"])


def test_list_wildcards_are_atoms() -> None:
    assert parse_command(b'a LIST "" %/*\r\n').args == (b"", "%/*")


@pytest.mark.parametrize(
    "line, reason",
    [
        (b"\r\n", "tag"),
        (b"a\r\n", "command"),
        (b'a LOGIN "unterminated\r\n', "unterminated"),
        (b"a FETCH 1 (FLAGS\r\n", "unbalanced"),
        (b"a FETCH 1 FLAGS)\r\n", "unexpected"),
        (b"a LOGIN {10}\r\nshort\r\n", "shorter"),
        (b"a UID LOGIN x\r\n", "UID"),
        (b"a* NOOP\r\n", "tag"),
        (b"a NOOP", "CRLF"),
        (b"a FETCH 1 BODY[TEXT\r\n", "unbalanced"),
    ],
)
def test_malformed_commands_are_protocol_errors(line: bytes, reason: str) -> None:
    with pytest.raises(ProtocolError, match=reason):
        parse_command(line)


@pytest.mark.parametrize(
    "line, expected",
    [
        (b"a APPEND x {12}\r\n", (12, True)),
        (b"a APPEND x {12+}\r\n", (12, False)),
        (b"a NOOP\r\n", None),
        (b"a LOGIN {x}\r\n", None),
    ],
)
def test_literal_announcement_at_end_of_line(line: bytes, expected: object) -> None:
    found = literal_at_end(line)
    assert (found and (found.size, found.synchronizing)) == expected


def test_inbox_is_case_insensitive_and_other_names_are_not() -> None:
    assert mailbox_name(b"inbox") == "INBOX"
    assert mailbox_name("Inbox/sub") == "INBOX/sub"
    assert mailbox_name("Junk") == "Junk"
    assert mailbox_name("junk") == "junk"


def test_system_flags_are_canonical_and_keywords_kept() -> None:
    assert flag_list(["\\seen", "$Junk"]) == ["\\Seen", "$Junk"]
    with pytest.raises(ProtocolError):
        flag_list(["\\Bogus"])


@pytest.mark.parametrize(
    "text, count, seqs",
    [
        ("1:3", 5, [1, 2, 3]),
        ("2,4:*", 5, [2, 4, 5]),
        ("*", 5, [5]),
        ("3:1", 5, [1, 2, 3]),
        ("4:9", 5, [4, 5]),
        ("1:*", 0, []),
    ],
)
def test_sequence_sets_resolve_to_message_numbers(
    text: str, count: int, seqs: list[int]
) -> None:
    assert SequenceSet.parse(text).seqs(count) == seqs


def test_uid_range_with_star_includes_the_largest_uid() -> None:
    assert SequenceSet.parse("10:*").uids([2, 5, 7]) == [7]
    assert SequenceSet.parse("3:6").uids([2, 5, 7]) == [5]


@pytest.mark.parametrize("text", ["", "0", "1,,2", "a:b", "01"])
def test_bad_sequence_sets_are_rejected(text: str) -> None:
    with pytest.raises(ProtocolError):
        SequenceSet.parse(text)


def test_uid_lists_compress_to_ranges() -> None:
    assert compress_uids([1, 2, 3, 7, 9, 10]) == "1:3,7,9:10"


def test_fetch_macros_expand_and_sections_parse() -> None:
    items = parse_items("FAST")
    assert items.simple == ("FLAGS", "INTERNALDATE", "RFC822.SIZE")
    items = parse_items(
        ["UID", "BODY.PEEK[1.2.MIME]", "BODY[HEADER.FIELDS.NOT (To)]<5.10>"]
    )
    first, second = items.sections
    assert (first.parts, first.kind, first.peek) == ((1, 2), "MIME", True)
    assert (second.kind, second.fields, second.origin, second.count) == (
        "HEADER.FIELDS.NOT",
        frozenset({"to"}),
        5,
        10,
    )
    assert second.label == "HEADER.FIELDS.NOT (To)"
    assert items.sets_seen and not parse_items(["BODY.PEEK[]"]).sets_seen


@pytest.mark.parametrize(
    "item", ["BODY[FOO]", "BOGUS", "BODY[MIME]", "BODY[HEADER.FIELDS]"]
)
def test_bad_fetch_attributes_are_rejected(item: str) -> None:
    with pytest.raises(ProtocolError):
        parse_items([item])
