"""The SMTP front on a loopback socket: real aiosmtpd, real spool, no Ray."""

from __future__ import annotations

import asyncio
import smtplib
import socket

import pytest

from ingest.policy import RecipientPolicy
from ingest.smtp import IngestHandler, build_received

MESSAGE = b"From: a@example.org\r\nSubject: hello\r\n\r\nline one\r\n..dotted\r\n"


def _send(port: int, rcpt: str = "test@example.com", data: bytes = MESSAGE):
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
        client.ehlo("client.test")
        return client.sendmail("a@example.org", [rcpt], data)


async def test_ehlo_advertises_size_8bitmime_smtputf8_pipelining(smtp_server):
    def ehlo():
        with smtplib.SMTP("127.0.0.1", smtp_server.port, timeout=5) as client:
            client.ehlo("client.test")
            return client.esmtp_features

    features = await asyncio.to_thread(ehlo)
    assert features["size"] == "4096"
    assert {"8bitmime", "smtputf8", "pipelining"} <= set(features)


async def test_accepted_message_is_spooled_with_received_header(smtp_server):
    await asyncio.to_thread(_send, smtp_server.port)
    [message] = smtp_server.accepted
    spooled = smtp_server.spool.read(message.queue_id)
    assert spooled.raw.startswith(b"Received: from client.test (127.0.0.1)")
    # smtplib dot-stuffs, the server unstuffs: byte for byte what was sent.
    assert spooled.raw.endswith(MESSAGE)
    assert spooled.rcpt_tos == ("test@example.com",)
    assert spooled.mail_from == "a@example.org"


async def test_rcpt_for_unknown_user_is_rejected(smtp_server):
    with pytest.raises(smtplib.SMTPRecipientsRefused) as info:
        await asyncio.to_thread(_send, smtp_server.port, "nobody@example.com")
    code, reply = info.value.recipients["nobody@example.com"]
    assert code == 550 and reply.startswith(b"5.1.1")
    assert smtp_server.accepted == []


async def test_rcpt_for_foreign_domain_is_rejected(smtp_server):
    with pytest.raises(smtplib.SMTPRecipientsRefused) as info:
        await asyncio.to_thread(_send, smtp_server.port, "test@elsewhere.org")
    assert info.value.recipients["test@elsewhere.org"][0] == 550


async def test_declared_size_over_limit_is_refused_at_mail_from(smtp_server):
    def declare():
        with smtplib.SMTP("127.0.0.1", smtp_server.port, timeout=5) as client:
            client.ehlo("client.test")
            return client.mail("a@example.org", ["SIZE=999999"])

    code, reply = await asyncio.to_thread(declare)
    assert code == 552 and reply.startswith(b"5.3.4")


async def test_undeclared_data_over_limit_is_refused_with_552(smtp_server):
    big = b"Subject: big\r\n\r\n" + (b"y" * 78 + b"\r\n") * 60 + b".\r\n"
    lines = await asyncio.to_thread(_raw_session, smtp_server.port, big)
    assert any(line.startswith(b"552 5.3.4") for line in lines), lines
    assert smtp_server.accepted == []


async def test_busy_reply_is_passed_through_as_451(smtp_server):
    smtp_server.reply_override = "451 4.3.2 System busy, try again later"
    with pytest.raises(smtplib.SMTPDataError) as info:
        await asyncio.to_thread(_send, smtp_server.port)
    assert info.value.smtp_code == 451


def _raw_session(port: int, data: bytes) -> list[bytes]:
    """Pipeline a whole session on a raw socket; return the reply lines."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            b"EHLO raw.test\r\nMAIL FROM:<a@example.org>\r\n"
            b"RCPT TO:<test@example.com>\r\nDATA\r\n" + data + b"QUIT\r\n"
        )
        received = b""
        while b"221" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    return [line for line in received.split(b"\r\n") if line]


SMUGGLED = (
    b"MAIL FROM:<evil@example.org>\r\nRCPT TO:<test@example.com>\r\nDATA\r\n"
    b"Subject: smuggled\r\n\r\nsecond\r\n"
)


@pytest.mark.parametrize(
    "ending",
    [b"\n.\n", b"\n.\r\n", b"\r.\r", b"\r\n.\n", b"\r.\r\n", b"\n.\r", b"\r\n.\r"],
    ids=repr,
)
async def test_smuggling_endings_never_split_a_message(smtp_server, ending):
    data = b"Subject: first\r\n\r\nfirst" + ending + SMUGGLED + b"\r\n.\r\n"
    lines = await asyncio.to_thread(_raw_session, smtp_server.port, data)

    assert len(smtp_server.accepted) == 1, lines
    [message] = smtp_server.accepted
    assert message.mail_from == "a@example.org"
    assert b"evil@example.org" in message.raw  # it stayed in the first body
    assert sum(line.startswith(b"250 2.0.0 Ok: queued") for line in lines) == 1


async def test_pipelined_session_gets_replies_in_order(smtp_server):
    lines = await asyncio.to_thread(
        _raw_session, smtp_server.port, b"Subject: p\r\n\r\nbody\r\n.\r\n"
    )
    codes = [line[:3] for line in lines if not line.startswith(b"250-")]
    assert codes == [b"220", b"250", b"250", b"250", b"354", b"250", b"221"]


async def test_dot_stuffed_lines_are_unstuffed(smtp_server):
    await asyncio.to_thread(
        _raw_session, smtp_server.port, b"Subject: d\r\n\r\n..line\r\n.\r\n"
    )
    [message] = smtp_server.accepted
    assert message.raw.endswith(b"\r\n\r\n.line\r\n")


def _protocols():
    from aiosmtpd.smtp import SMTP

    from ingest.smtp import MailraySMTP

    handler = IngestHandler(
        RecipientPolicy.build(["example.com"], []), build_received("mx"), _refuse
    )
    return MailraySMTP(handler, hostname="mx.test"), SMTP(handler, hostname="mx.test")


async def _refuse(message):
    return "451 4.3.0 not here"


@pytest.mark.parametrize(
    "arg",
    [
        "<a@example.org>",
        "a@example.org",
        "<a@example.org> SIZE=100 BODY=8BITMIME",
        "",
        "<>",
        "<unterminated",
        '<"quoted local"@example.org>',
        "not an address <a@example.org>",
        "<" + "x" * 100 + "@example.org>",
    ],
)
async def test_address_parse_matches_aiosmtpd(arg):
    ours, theirs = _protocols()
    ours.local_part_limit = theirs.local_part_limit = 64
    assert ours._getaddr(arg) == theirs._getaddr(arg)


async def test_command_and_hook_tables_match_aiosmtpd():
    ours, theirs = _protocols()
    assert ours._smtp_methods.keys() == theirs._smtp_methods.keys()
    assert ours._auth_methods.keys() == theirs._auth_methods.keys()
    assert ours._handle_hooks.keys() == {"EHLO", "RCPT", "DATA"}
    assert ours._ehlo_hook_ver == "new"
