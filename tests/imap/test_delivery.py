"""The delivery hook: routing per recipient, idempotence, persistence."""

from __future__ import annotations

from pathlib import Path

import pytest

from imap import prefs
from imap.delivery import DeliveryError
from imap.service import LocalImap
from imap.sqlite_store import SqliteStore
from storage.root import StorageRoot
from tests.imap.conftest import (
    OTHER,
    OTHER_PASSWORD,
    USER,
    ImapUnderTest,
    make_config,
    simple_message,
)


def test_retried_batch_never_duplicates(imap_server, client) -> None:
    message = imap_server.stored(simple_message(), rcpt_tos=(USER, OTHER, USER))
    first = imap_server.server.deliver([message])
    again = imap_server.server.deliver([message])
    assert [r.user for r in first] == [USER, OTHER]
    assert all(r.duplicate for r in again)
    assert client.status("INBOX", "(MESSAGES)")[1] == [b'"INBOX" (MESSAGES 1)']


def test_spam_goes_to_junk_and_recipients_decide_for_themselves(imap_server) -> None:
    store = imap_server.server.server.store
    prefs.set_spam_threshold(store, OTHER, 0.95)
    records = imap_server.deliver(
        simple_message("offer"), rcpt_tos=(USER, OTHER), spam_score=0.9
    )
    where = {r.user: r.mailbox for r in records}
    assert where == {USER: "Junk", OTHER: "INBOX"}
    reasons = {r.user: r.reasons for r in records}
    assert "user threshold 0.950" in reasons[OTHER][0]


def test_allow_and_block_lists_override_the_model(imap_server) -> None:
    store = imap_server.server.server.store
    prefs.add_to_list(store, USER, "allow", "carol@sender.test")
    prefs.add_to_list(store, OTHER, "block", "@sender.test")
    records = imap_server.deliver(
        simple_message(), rcpt_tos=(USER, OTHER), spam_score=0.99
    )
    where = {r.user: (r.mailbox, r.reasons[0]) for r in records}
    assert where[USER] == ("INBOX", "sender carol@sender.test is on the allow list")
    records = imap_server.deliver(simple_message(), rcpt_tos=(OTHER,), spam_score=0.01)
    assert (records[0].mailbox, records[0].reasons[0]) == (
        "Junk",
        "domain sender.test is on the block list",
    )
    stored = store.delivery_reasons(records[0].queue_id, store.get_user(OTHER).id)
    assert stored is not None and stored.reasons == records[0].reasons


def test_unknown_recipients_are_skipped(imap_server) -> None:
    assert imap_server.deliver(simple_message(), rcpt_tos=("nobody@example.com",)) == []


def test_missing_raw_object_fails_the_batch_for_retry(imap_server) -> None:
    message = imap_server.stored(simple_message())
    imap_server.root.fs.rm(imap_server.root.path(message.raw_key))
    with pytest.raises(DeliveryError):
        imap_server.server.deliver([message])


def test_users_see_only_their_own_mail(imap_server) -> None:
    imap_server.deliver(simple_message("for alice"), rcpt_tos=(USER,))
    bob = imap_server.client(OTHER, OTHER_PASSWORD)
    assert bob.status("INBOX", "(MESSAGES)")[1] == [b'"INBOX" (MESSAGES 0)']
    bob.select("INBOX")
    assert bob.search(None, "ALL")[1] == [b""]
    bob.logout()


def test_state_survives_a_restart(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    root = StorageRoot.from_config(config.storage)
    with LocalImap(config, root) as server:
        under_test = ImapUnderTest(server, root, config)
        under_test.deliver(simple_message("keep me"))
        client = under_test.client()
        client.select("INBOX")
        client.store("1", "+FLAGS", "(\\Flagged)")
        before = client.status("INBOX", "(UIDVALIDITY UIDNEXT MESSAGES)")[1]
        client.logout()
    with LocalImap(config, root) as server:
        client = ImapUnderTest(server, root, config).client()
        assert client.status("INBOX", "(UIDVALIDITY UIDNEXT MESSAGES)")[1] == before
        client.select("INBOX")
        _, data = client.fetch("1", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert b"\\Flagged" in data[0][0] and data[0][1] == b"Subject: keep me\r\n\r\n"
        client.logout()


def test_passwords_are_stored_hashed(imap_server) -> None:
    store = SqliteStore(imap_server.config.imap.metadata_path)
    record = store.get_user(USER)
    assert record is not None and record.password_hash.startswith("scrypt$")
    assert "wonderland" not in record.password_hash
