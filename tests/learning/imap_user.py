"""A mail user over IMAP: finds the test's messages and labels them."""

from __future__ import annotations

import time

from imapclient import IMAPClient

MARK = b"X-Scenario"


def _client(imap: str, user: str, password: str) -> IMAPClient:
    host, _, port = imap.rpartition(":")
    client = IMAPClient(host, port=int(port), ssl=False, timeout=30)
    client.login(user, password)
    return client


def marked(client: IMAPClient, mailbox: str, batch: str) -> list[int]:
    """UIDs in ``mailbox`` whose X-Scenario header names ``batch``."""
    client.select_folder(mailbox)
    uids = client.search(["ALL"])
    if not uids:
        return []
    section = b"BODY[HEADER.FIELDS (X-SCENARIO)]"
    fetched = client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (X-SCENARIO)]"])
    wanted = f"{MARK.decode()}: {batch}".encode().lower()
    return [
        uid
        for uid, data in fetched.items()
        if wanted in data.get(section, b"").lower().replace(b"\r\n", b"")
    ]


def wait_delivered(
    imap: str, user: str, password: str, batch: str, count: int, timeout_s: float
) -> dict[str, list[int]]:
    """Wait until ``count`` messages of ``batch`` sit in INBOX or Junk."""
    deadline = time.monotonic() + timeout_s
    found: dict[str, list[int]] = {}
    while time.monotonic() < deadline:
        with _client(imap, user, password) as client:
            found = {box: marked(client, box, batch) for box in ("INBOX", "Junk")}
        if sum(len(v) for v in found.values()) >= count:
            return found
        time.sleep(1.0)
    raise AssertionError(f"batch {batch}: only {found} of {count} delivered")


def label_batch(imap: str, user: str, password: str, batch: str, label: str) -> int:
    """Label every message of ``batch`` the way a mail client does.

    Spam: messages in INBOX are moved to Junk, those already in Junk get
    ``$Junk``. Ham: ``$NotJunk`` in INBOX, moved out of Junk otherwise.
    """
    done = 0
    with _client(imap, user, password) as client:
        inbox = marked(client, "INBOX", batch)
        if inbox:
            if label == "spam":
                client.move(inbox, "Junk")
            else:
                client.add_flags(inbox, [b"$NotJunk"])
            done += len(inbox)
        junk = marked(client, "Junk", batch)
        if junk and label == "spam":
            unflagged = [
                uid
                for uid, flags in client.get_flags(junk).items()
                if b"$Junk" not in flags
            ]
            if unflagged:
                client.add_flags(unflagged, [b"$Junk"])
            done += len(unflagged)
        elif junk:
            client.move(junk, "INBOX")
            done += len(junk)
    return done
