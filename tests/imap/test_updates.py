"""IDLE and the untagged updates other sessions and deliveries cause."""

from __future__ import annotations

import time

from tests.imap.conftest import PASSWORD, USER, simple_message
from tests.imap.wire_client import WireClient


def selected(port: int, mailbox: bytes = b"INBOX") -> WireClient:
    wire = WireClient(port)
    wire.send(f'l LOGIN "{USER}" "{PASSWORD}"\r\n'.encode())
    wire.until_tagged(b"l")
    wire.send(b"s SELECT " + mailbox + b"\r\n")
    wire.until_tagged(b"s")
    return wire


def test_idle_sees_mail_delivered_over_smtp(imap_server) -> None:
    wire = selected(imap_server.port)
    wire.send(b"i IDLE\r\n")
    assert wire.line().startswith(b"+ ")
    imap_server.deliver(simple_message("fresh"))
    assert wire.line() == b"* 1 EXISTS"
    assert wire.line() == b"* 1 RECENT"
    wire.send(b"DONE\r\n")
    assert wire.until_tagged(b"i")[-1] == b"i OK IDLE terminated"


def test_idle_sees_append_from_another_session(imap_server, client) -> None:
    wire = selected(imap_server.port)
    wire.send(b"i IDLE\r\n")
    wire.line()
    client.append("INBOX", None, None, simple_message("from elsewhere"))
    assert wire.line() == b"* 1 EXISTS"
    wire.send(b"DONE\r\n")
    wire.until_tagged(b"i")


def test_other_sessions_get_expunge_and_flag_updates(imap_server, client) -> None:
    imap_server.deliver(simple_message("one"))
    imap_server.deliver(simple_message("two"))
    watcher = selected(imap_server.port)
    client.select("INBOX")
    client.store("2", "+FLAGS", "(\\Flagged)")
    watcher.send(b"n NOOP\r\n")
    lines = watcher.until_tagged(b"n")
    assert lines[0].startswith(b"* 2 FETCH (FLAGS (\\Flagged")
    client.store("1", "+FLAGS", "(\\Deleted)")
    client.expunge()
    watcher.send(b"n2 NOOP\r\n")
    lines = watcher.until_tagged(b"n2")
    assert b"* 1 EXPUNGE" in lines


def test_expunge_is_held_back_during_fetch(imap_server, client) -> None:
    imap_server.deliver(simple_message("one"))
    watcher = selected(imap_server.port)
    client.select("INBOX")
    client.store("1", "+FLAGS", "(\\Deleted)")
    client.expunge()
    watcher.send(b"f FETCH 1 (FLAGS)\r\n")
    lines = watcher.until_tagged(b"f")
    assert not any(line.endswith(b"EXPUNGE") for line in lines)
    watcher.send(b"n NOOP\r\n")
    assert b"* 1 EXPUNGE" in watcher.until_tagged(b"n")


def test_idle_reports_nothing_for_another_users_mail(imap_server) -> None:
    wire = selected(imap_server.port)
    wire.send(b"i IDLE\r\n")
    wire.line()
    imap_server.deliver(simple_message("for bob"), rcpt_tos=("bob@example.com",))
    time.sleep(0.3)
    wire.send(b"DONE\r\n")
    assert wire.until_tagged(b"i") == [b"i OK IDLE terminated"]
