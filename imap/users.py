"""Users from the configuration, seeded into the metadata store at start."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from cluster.config import UserConfig
from imap.metadata import MetadataStore, UserRecord
from imap.passwords import hash_password, is_hashed, verify_password

log = logging.getLogger("mailray.imap")

STANDARD_MAILBOXES: tuple[tuple[str, str | None], ...] = (
    ("INBOX", None),
    ("Junk", "\\Junk"),
    ("Sent", "\\Sent"),
    ("Drafts", "\\Drafts"),
    ("Trash", "\\Trash"),
)


def seed_users(store: MetadataStore, users: Sequence[UserConfig]) -> list[UserRecord]:
    """Create or update each configured user and their standard mailboxes.

    A plain-text password is hashed; an unchanged one keeps its stored
    hash, so restarts do not rewrite it.
    """
    records = []
    for user in users:
        existing = store.get_user(user.name)
        if is_hashed(user.password):
            password_hash = user.password
        elif existing and verify_password(user.password, existing.password_hash):
            password_hash = existing.password_hash
        else:
            password_hash = hash_password(user.password)
        record = store.upsert_user(
            user.name, password_hash, user.addresses, user.spam_threshold
        )
        for name, special_use in STANDARD_MAILBOXES:
            store.ensure_mailbox(record.id, name, special_use)
            if existing is None:
                store.set_subscribed(record.id, name, True)
        log.info("user %s seeded with %d address(es)", user.name, len(user.addresses))
        records.append(record)
    return records


def require_user(store: MetadataStore, name: str) -> UserRecord:
    from imap.errors import UnknownUser

    record = store.get_user(name)
    if record is None:
        raise UnknownUser(name)
    return record
