from datetime import UTC, datetime

import pytest

from ingest.policy import (
    MAX_RECIPIENTS,
    RecipientPolicy,
    enhance_reply,
    received_header,
    recipient_reply,
)

POLICY = RecipientPolicy.build(["Example.com"], ["Test@example.com"])


@pytest.mark.parametrize(
    ("address", "accepted", "code"),
    [
        ("test@example.com", 0, "250 2.1.5"),
        ("TEST@EXAMPLE.COM", 0, "250 2.1.5"),
        ("nobody@example.com", 0, "550 5.1.1"),
        ("test@elsewhere.org", 0, "550 5.1.1"),
        ("no-at-sign", 0, "501 5.1.3"),
        ("@example.com", 0, "501 5.1.3"),
        ("test@example.com", MAX_RECIPIENTS, "452 4.5.3"),
    ],
)
def test_recipient_reply_table(address, accepted, code):
    assert recipient_reply(POLICY, address, accepted).startswith(code)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("552 Error: Too much mail data", "552 5.3.4"),
        ("552 Error: message size exceeds fixed maximum message size", "552 5.3.4"),
        ("250 OK", "250 2.0.0"),
        ("451 4.3.2 System busy", "451 4.3.2"),
    ],
)
def test_aiosmtpd_replies_get_enhanced_codes(reply, expected):
    assert enhance_reply(reply).startswith(expected)


def test_received_header_names_single_recipient_and_folds():
    header = received_header(
        hostname="mx.test",
        peer_host="192.0.2.1",
        helo="client.example\r\nX-Evil: 1",
        queue_id="abc",
        rcpt_count=1,
        recipient="test@example.com",
        smtp_utf8=False,
        when=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    text = header.decode()
    assert text.startswith("Received: from client.exampleX-Evil: 1 (192.0.2.1)")
    assert "for <test@example.com>" in text
    assert "id abc" in text
    assert text.endswith("\r\n") and "\nX-Evil" not in text


def test_received_header_hides_recipients_when_several():
    header = received_header(
        hostname="mx.test",
        peer_host="192.0.2.1",
        helo=None,
        queue_id="abc",
        rcpt_count=2,
        recipient="test@example.com",
        smtp_utf8=True,
        when=datetime(2024, 1, 2, tzinfo=UTC),
    )
    assert b"for <" not in header and b"UTF8SMTP" in header
