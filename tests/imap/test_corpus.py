"""Real and malformed mail served intact, with parseable structures."""

from __future__ import annotations

from pathlib import Path

import pytest
from imapclient import IMAPClient

from tests.imap.conftest import PASSWORD, USER

pytestmark = [pytest.mark.corpus, pytest.mark.slow]


def _deliver_all(imap_server, paths: list[Path]) -> dict[int, bytes]:
    messages = [imap_server.stored(path.read_bytes()) for path in paths]
    records = imap_server.server.deliver(messages)
    by_uid = {}
    for record, path in zip(records, paths, strict=True):
        assert record.mailbox == "INBOX"
        by_uid[record.uid] = path.read_bytes()
    return by_uid


def _check_served(imap_server, expected: dict[int, bytes]) -> None:
    with IMAPClient(
        "127.0.0.1", port=imap_server.port, ssl=False, timeout=60
    ) as client:
        client.login(USER, PASSWORD)
        client.select_folder("INBOX")
        fetched = client.fetch(
            list(expected), ["RFC822.SIZE", "ENVELOPE", "BODYSTRUCTURE", "BODY.PEEK[]"]
        )
        assert len(fetched) == len(expected)
        for uid, raw in expected.items():
            item = fetched[uid]
            assert item[b"BODY[]"] == raw, uid
            assert item[b"RFC822.SIZE"] == len(raw), uid
            assert item[b"BODYSTRUCTURE"] is not None
        assert client.search(["TEXT", "the"])
        assert client.search(["HEADER", "Subject", "a"]) is not None


def test_mime_torture_messages_are_served_byte_for_byte(
    imap_server, mime_torture: Path
) -> None:
    paths = sorted(p for p in mime_torture.rglob("*.eml") if p.is_file())
    assert len(paths) > 200
    _check_served(imap_server, _deliver_all(imap_server, paths))


def test_spamassassin_sample_is_served_byte_for_byte(
    imap_server, spamassassin: Path
) -> None:
    paths: list[Path] = []
    for folder in ("easy_ham", "hard_ham", "spam"):
        files = sorted(p for p in (spamassassin / folder).iterdir() if p.is_file())
        paths.extend([p for p in files if p.name != "cmds"][:50])
    _check_served(imap_server, _deliver_all(imap_server, paths))
