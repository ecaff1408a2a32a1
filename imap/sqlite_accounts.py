"""Users, preferences and mailboxes in the SQLite store."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from imap.errors import CommandFailed
from imap.metadata import (
    MailboxRecord,
    MailboxStatus,
    MailboxView,
    SenderList,
    UserRecord,
)
from imap.routing import UserPrefs
from imap.sqlite_base import SqliteBase, split_flags


class AccountsMixin(SqliteBase):
    """Users, their preferences, mailboxes and subscriptions."""

    def upsert_user(
        self,
        name: str,
        password_hash: str,
        addresses: Sequence[str],
        spam_threshold: float | None,
    ) -> UserRecord:
        with self._tx() as db:
            db.execute(
                "INSERT INTO users (name, password_hash, spam_threshold) "
                "VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
                "password_hash = excluded.password_hash",
                (name, password_hash, spam_threshold),
            )
            (user_id,) = db.execute(
                "SELECT id FROM users WHERE name = ?", (name,)
            ).fetchone()
            if spam_threshold is not None:
                db.execute(
                    "UPDATE users SET spam_threshold = ? WHERE id = ?",
                    (spam_threshold, user_id),
                )
            for address in addresses:
                db.execute(
                    "INSERT INTO addresses (address, user_id) VALUES (?, ?) "
                    "ON CONFLICT(address) DO UPDATE SET user_id = excluded.user_id",
                    (address.lower(), user_id),
                )
        return UserRecord(user_id, name, password_hash)

    def get_user(self, name: str) -> UserRecord | None:
        row = (
            self._db()
            .execute(
                "SELECT id, name, password_hash FROM users WHERE name = ?", (name,)
            )
            .fetchone()
        )
        return UserRecord(*row) if row else None

    def user_for_address(self, address: str) -> UserRecord | None:
        row = (
            self._db()
            .execute(
                "SELECT u.id, u.name, u.password_hash FROM addresses a "
                "JOIN users u ON u.id = a.user_id WHERE a.address = ?",
                (address.strip().lower(),),
            )
            .fetchone()
        )
        return UserRecord(*row) if row else None

    def get_prefs(self, user_id: int) -> UserPrefs:
        db = self._db()
        row = db.execute(
            "SELECT spam_threshold FROM users WHERE id = ?", (user_id,)
        ).fetchone()
        lists: dict[str, set[str]] = {
            "allow_senders": set(),
            "allow_domains": set(),
            "block_senders": set(),
            "block_domains": set(),
        }
        for which, value in db.execute(
            "SELECT list, value FROM sender_lists WHERE user_id = ?", (user_id,)
        ):
            kind = "domains" if "@" not in value else "senders"
            lists[f"{which}_{kind}"].add(value)
        return UserPrefs(
            spam_threshold=row[0] if row else None,
            **{key: frozenset(values) for key, values in lists.items()},
        )

    def set_spam_threshold(self, user_id: int, threshold: float | None) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE users SET spam_threshold = ? WHERE id = ?", (threshold, user_id)
            )

    def add_sender(self, user_id: int, which: SenderList, value: str) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO sender_lists (user_id, list, value) "
                "VALUES (?, ?, ?)",
                (user_id, which, value.strip().lower()),
            )

    def remove_sender(self, user_id: int, which: SenderList, value: str) -> bool:
        with self._tx() as db:
            cursor = db.execute(
                "DELETE FROM sender_lists WHERE user_id = ? AND list = ? AND value = ?",
                (user_id, which, value.strip().lower()),
            )
        return cursor.rowcount > 0

    def ensure_mailbox(
        self, user_id: int, name: str, special_use: str | None = None
    ) -> MailboxRecord:
        with self._tx() as db:
            found = self._mailbox(db, user_id, name)
            if found is not None:
                if special_use and found.special_use != special_use:
                    db.execute(
                        "UPDATE mailboxes SET special_use = ? WHERE id = ?",
                        (special_use, found.id),
                    )
                return found
            return self._insert_mailbox(db, user_id, name, special_use)

    def get_mailbox(self, user_id: int, name: str) -> MailboxRecord | None:
        return self._mailbox(self._db(), user_id, name)

    def list_mailboxes(self, user_id: int) -> list[MailboxRecord]:
        rows = self._db().execute(
            "SELECT id, user_id, name, special_use, uidvalidity, uidnext "
            "FROM mailboxes WHERE user_id = ? ORDER BY name",
            (user_id,),
        )
        return [MailboxRecord(*row) for row in rows]

    def create_mailbox(self, user_id: int, name: str) -> MailboxRecord:
        with self._tx() as db:
            if self._mailbox(db, user_id, name) is not None:
                raise CommandFailed(f"mailbox {name!r} exists", "ALREADYEXISTS")
            parts = name.split("/")
            for depth in range(1, len(parts)):
                parent = "/".join(parts[:depth])
                if parent and self._mailbox(db, user_id, parent) is None:
                    self._insert_mailbox(db, user_id, parent, None)
            return self._insert_mailbox(db, user_id, name, None)

    def delete_mailbox(self, user_id: int, name: str) -> int:
        with self._tx() as db:
            found = self._mailbox(db, user_id, name)
            if found is None:
                raise CommandFailed(f"no mailbox {name!r}", "NONEXISTENT")
            child = db.execute(
                "SELECT 1 FROM mailboxes WHERE user_id = ? AND substr(name, 1, ?) = ?",
                (user_id, len(name) + 1, name + "/"),
            ).fetchone()
            if child:
                # TODO(#4): RFC 3501 lets such a mailbox become \Noselect
                # instead; refusing is simpler and loses nothing.
                raise CommandFailed(f"mailbox {name!r} has sub-folders", "INUSE")
            db.execute("DELETE FROM mail WHERE mailbox_id = ?", (found.id,))
            db.execute("DELETE FROM mailboxes WHERE id = ?", (found.id,))
            return found.id

    def rename_mailbox(self, user_id: int, old: str, new: str) -> int:
        with self._tx() as db:
            found = self._mailbox(db, user_id, old)
            if found is None:
                raise CommandFailed(f"no mailbox {old!r}", "NONEXISTENT")
            if self._mailbox(db, user_id, new) is not None:
                raise CommandFailed(f"mailbox {new!r} exists", "ALREADYEXISTS")
            parts = new.split("/")
            for depth in range(1, len(parts)):
                parent = "/".join(parts[:depth])
                if self._mailbox(db, user_id, parent) is None:
                    self._insert_mailbox(db, user_id, parent, None)
            if old == "INBOX":
                # INBOX stays; its messages move to the new mailbox.
                target = self._insert_mailbox(db, user_id, new, None)
                self._move_all(db, found.id, target.id)
                return found.id
            db.execute(
                "UPDATE mailboxes SET name = ? || substr(name, ?) "
                "WHERE user_id = ? AND (name = ? OR substr(name, 1, ?) = ?)",
                (new, len(old) + 1, user_id, old, len(old) + 1, old + "/"),
            )
            return found.id

    def _move_all(self, db: sqlite3.Connection, source: int, target: int) -> None:
        rows = db.execute(
            "SELECT uid FROM mail WHERE mailbox_id = ? ORDER BY uid", (source,)
        ).fetchall()
        uids = [uid for (uid,) in rows]
        self._copy(db, source, uids, target, move=True, feedback=None)

    def subscriptions(self, user_id: int) -> list[str]:
        rows = self._db().execute(
            "SELECT name FROM subscriptions WHERE user_id = ? ORDER BY name",
            (user_id,),
        )
        return [name for (name,) in rows]

    def set_subscribed(self, user_id: int, name: str, subscribed: bool) -> None:
        with self._tx() as db:
            if subscribed:
                db.execute(
                    "INSERT OR IGNORE INTO subscriptions (user_id, name) VALUES (?, ?)",
                    (user_id, name),
                )
            else:
                db.execute(
                    "DELETE FROM subscriptions WHERE user_id = ? AND name = ?",
                    (user_id, name),
                )

    def status(self, mailbox_id: int) -> MailboxStatus:
        db = self._db()
        row = db.execute(
            "SELECT uidvalidity, uidnext, first_recent_uid FROM mailboxes WHERE id = ?",
            (mailbox_id,),
        ).fetchone()
        if row is None:
            raise CommandFailed("mailbox no longer exists", "NONEXISTENT")
        uidvalidity, uidnext, first_recent = row
        (messages,) = db.execute(
            "SELECT COUNT(*) FROM mail WHERE mailbox_id = ?", (mailbox_id,)
        ).fetchone()
        (unseen,) = db.execute(
            "SELECT COUNT(*) FROM mail WHERE mailbox_id = ? AND seen = 0", (mailbox_id,)
        ).fetchone()
        (recent,) = db.execute(
            "SELECT COUNT(*) FROM mail WHERE mailbox_id = ? AND uid >= ?",
            (mailbox_id, first_recent),
        ).fetchone()
        return MailboxStatus(messages, recent, unseen, uidnext, uidvalidity)

    def view(self, mailbox_id: int) -> MailboxView:
        db = self._db()
        db.execute("BEGIN")
        try:
            row = db.execute(
                "SELECT modseq, first_recent_uid FROM mailboxes WHERE id = ?",
                (mailbox_id,),
            ).fetchone()
            if row is None:
                raise CommandFailed("mailbox no longer exists", "NONEXISTENT")
            rows = db.execute(
                "SELECT uid, flags FROM mail WHERE mailbox_id = ? ORDER BY uid",
                (mailbox_id,),
            ).fetchall()
        finally:
            db.execute("COMMIT")
        return MailboxView(
            modseq=row[0],
            uids=tuple(uid for uid, _ in rows),
            flags=tuple(split_flags(flags) for _, flags in rows),
            first_recent_uid=row[1],
        )

    def modseq(self, mailbox_id: int) -> int:
        row = (
            self._db()
            .execute("SELECT modseq FROM mailboxes WHERE id = ?", (mailbox_id,))
            .fetchone()
        )
        return row[0] if row else -1

    def claim_recent(self, mailbox_id: int) -> int:
        """Make messages up to now non-recent for others; returns the old mark."""
        with self._tx() as db:
            row = db.execute(
                "SELECT first_recent_uid, uidnext FROM mailboxes WHERE id = ?",
                (mailbox_id,),
            ).fetchone()
            if row is None:
                raise CommandFailed("mailbox no longer exists", "NONEXISTENT")
            db.execute(
                "UPDATE mailboxes SET first_recent_uid = ? WHERE id = ?",
                (row[1], mailbox_id),
            )
        return row[0]
