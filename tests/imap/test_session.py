"""Greeting, authentication, pipelining, literals and bad input, over a socket."""

from __future__ import annotations

import base64
import imaplib
import time
from pathlib import Path

import pytest

from imap.service import LocalImap
from storage.root import StorageRoot
from tests.imap.conftest import OTHER, OTHER_PASSWORD, PASSWORD, USER, make_config
from tests.imap.wire_client import WireClient


def login(wire: WireClient) -> None:
    wire.send(f'l LOGIN "{USER}" "{PASSWORD}"\r\n'.encode())
    assert wire.until_tagged(b"l")[-1].startswith(b"l OK")


def test_greeting_and_login_ok_carry_capabilities(imap_server) -> None:
    wire = WireClient(imap_server.port)
    assert wire.greeting.startswith(b"* OK [CAPABILITY IMAP4rev1 ")
    for capability in (b"LITERAL+", b"UIDPLUS", b"MOVE", b"IDLE", b"SPECIAL-USE"):
        assert capability in wire.greeting
    wire.send(f'l LOGIN "{USER}" "{PASSWORD}"\r\n'.encode())
    assert wire.until_tagged(b"l")[-1].startswith(b"l OK [CAPABILITY IMAP4rev1 ")


def test_authenticate_plain_with_initial_response(imap_server) -> None:
    wire = WireClient(imap_server.port)
    token = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode())
    wire.send(b"a AUTHENTICATE PLAIN " + token + b"\r\n")
    assert wire.until_tagged(b"a")[-1].startswith(b"a OK")


def test_authenticate_plain_after_continuation(imap_server) -> None:
    client = imaplib.IMAP4("127.0.0.1", imap_server.port, timeout=10)
    status, _ = client.authenticate(
        "PLAIN", lambda _challenge: f"\0{USER}\0{PASSWORD}".encode()
    )
    assert status == "OK"
    client.logout()


def test_wrong_password_is_refused_and_connection_survives(imap_server) -> None:
    wire = WireClient(imap_server.port)
    wire.send(f'a LOGIN "{USER}" "nope"\r\n'.encode())
    assert wire.until_tagged(b"a")[-1].startswith(b"a NO [AUTHENTICATIONFAILED]")
    login(wire)


def test_login_flood_is_refused_without_checking_the_password(imap_server) -> None:
    wire = WireClient(imap_server.port)
    for attempt in range(imap_server.config.imap.max_failed_logins):
        wire.send(f'a{attempt} LOGIN "{USER}" "nope"\r\n'.encode())
        wire.until_tagged(f"a{attempt}".encode())
    wire.send(f'b LOGIN "{USER}" "{PASSWORD}"\r\n'.encode())
    assert wire.until_tagged(b"b")[-1].startswith(b"b NO [UNAVAILABLE]")
    wire.send(f'c LOGIN "{OTHER}" "{OTHER_PASSWORD}"\r\n'.encode())
    assert wire.until_tagged(b"c")[-1].startswith(b"c OK")


def test_pipelined_commands_are_answered_in_order(imap_server) -> None:
    wire = WireClient(imap_server.port)
    login(wire)
    wire.send(b"p1 NOOP\r\np2 SELECT INBOX\r\np3 CAPABILITY\r\np4 BOGUS\r\np5 NOOP\r\n")
    tagged = [line.split(b" ")[:2] for line in wire.until_tagged(b"p5")]
    tagged = [pair for pair in tagged if pair[0] != b"*"]
    assert tagged == [
        [b"p1", b"OK"],
        [b"p2", b"OK"],
        [b"p3", b"OK"],
        [b"p4", b"BAD"],
        [b"p5", b"OK"],
    ]


def test_synchronising_literal_gets_a_continuation(imap_server) -> None:
    wire = WireClient(imap_server.port)
    wire.send(b"a LOGIN {%d}\r\n" % len(USER))
    assert wire.line().startswith(b"+ ")
    wire.send(
        USER.encode() + b" {%d+}\r\n" % len(PASSWORD) + PASSWORD.encode() + b"\r\n"
    )
    assert wire.until_tagged(b"a")[-1].startswith(b"a OK")


def test_oversized_literals_are_refused_and_connection_survives(tmp_path: Path) -> None:
    config = make_config(tmp_path, max_literal_bytes=2048)
    with LocalImap(config, StorageRoot.from_config(config.storage)) as server:
        wire = WireClient(server.port)
        login(wire)
        wire.send(b"a APPEND INBOX {5000}\r\n")
        assert wire.until_tagged(b"a")[-1].startswith(b"a NO [TOOBIG]")
        wire.send(b"b APPEND INBOX {5000+}\r\n" + b"x" * 5000 + b"\r\n")
        assert wire.until_tagged(b"b")[-1].startswith(b"b NO [TOOBIG]")
        wire.send(b"c NOOP\r\n")
        assert wire.until_tagged(b"c")[-1].startswith(b"c OK")


@pytest.mark.parametrize(
    "line, reply",
    [
        (b"a FROBNICATE\r\n", b"a BAD"),
        (b'a LOGIN "unterminated\r\n', b"a BAD"),
        (b"a FETCH 1 (FLAGS\r\n", b"a BAD"),
        (b"a SELECT\r\n", b"a BAD"),
        (b"a FETCH 1 (BOGUS)\r\n", b"a BAD"),
        (b"a SEARCH CHARSET KOI8-R ALL\r\n", b"a NO [BADCHARSET"),
        (b"a STORE 1 +FLAGS (\\Bogus)\r\n", b"a BAD"),
        (b"a FETCH 0 FLAGS\r\n", b"a BAD"),
        (b"a COPY 1 NoSuchBox\r\n", b"a NO"),
        (b"a LOGIN x y\r\n", b"a NO"),
    ],
)
def test_bad_input_gets_a_reason_and_the_session_goes_on(
    imap_server, line: bytes, reply: bytes
) -> None:
    imap_server.deliver(b"Subject: x\r\n\r\nbody\r\n")
    wire = WireClient(imap_server.port)
    login(wire)
    wire.send(b"s SELECT INBOX\r\n")
    wire.until_tagged(b"s")
    wire.send(line)
    answer = wire.until_tagged(b"a")[-1]
    assert answer.startswith(reply)
    assert b"Traceback" not in answer
    wire.send(b"z NOOP\r\n")
    assert wire.until_tagged(b"z")[-1].startswith(b"z OK")


def test_commands_in_the_wrong_state_get_no(imap_server) -> None:
    wire = WireClient(imap_server.port)
    wire.send(b"a SELECT INBOX\r\n")
    assert wire.until_tagged(b"a")[-1].startswith(b"a NO")
    login(wire)
    wire.send(b"b FETCH 1 FLAGS\r\n")
    assert wire.until_tagged(b"b")[-1].startswith(b"b NO")


def test_idle_client_is_logged_out_after_the_timeout(tmp_path: Path) -> None:
    config = make_config(tmp_path, idle_timeout_s=0.5)
    with LocalImap(config, StorageRoot.from_config(config.storage)) as server:
        wire = WireClient(server.port)
        time.sleep(1.0)
        assert wire.line().startswith(b"* BYE")
