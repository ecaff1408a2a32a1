"""The default metadata store: SQLite in WAL mode on local disk.

Each thread gets its own connection; writers take ``BEGIN IMMEDIATE`` and
commit with ``synchronous=FULL``, so a returned call is on disk.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from imap.errors import CommandFailed, MetadataError
from imap.feedback import FeedbackEvent
from imap.metadata import (
    DeliveryItem,
    DeliveryRecord,
    FeedbackSpec,
    FlagMode,
    MailboxRecord,
    MailboxStatus,
    MailboxView,
    MailRow,
    MessageInfo,
    SenderList,
    UserRecord,
)
from imap.routing import UserPrefs

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS users (
  id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL,
  password_hash TEXT NOT NULL, spam_threshold REAL);
CREATE TABLE IF NOT EXISTS addresses (
  address TEXT PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id));
CREATE TABLE IF NOT EXISTS sender_lists (
  user_id INTEGER NOT NULL, list TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (user_id, list, value));
CREATE TABLE IF NOT EXISTS mailboxes (
  id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id),
  name TEXT NOT NULL, special_use TEXT, uidvalidity INTEGER NOT NULL,
  uidnext INTEGER NOT NULL DEFAULT 1, first_recent_uid INTEGER NOT NULL DEFAULT 1,
  modseq INTEGER NOT NULL DEFAULT 1, UNIQUE (user_id, name));
CREATE TABLE IF NOT EXISTS subscriptions (
  user_id INTEGER NOT NULL, name TEXT NOT NULL, PRIMARY KEY (user_id, name));
CREATE TABLE IF NOT EXISTS messages (
  id INTEGER PRIMARY KEY, queue_id TEXT UNIQUE NOT NULL, raw_key TEXT NOT NULL,
  size INTEGER NOT NULL, message_id TEXT NOT NULL DEFAULT '',
  spam_score REAL, label TEXT, model_version TEXT);
CREATE INDEX IF NOT EXISTS messages_by_message_id ON messages(message_id);
CREATE TABLE IF NOT EXISTS mail (
  mailbox_id INTEGER NOT NULL, uid INTEGER NOT NULL,
  message_ref INTEGER NOT NULL REFERENCES messages(id),
  flags TEXT NOT NULL DEFAULT '', seen INTEGER NOT NULL DEFAULT 0,
  internaldate TEXT NOT NULL, PRIMARY KEY (mailbox_id, uid)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS mail_by_seen ON mail(mailbox_id, seen);
CREATE INDEX IF NOT EXISTS mail_by_message ON mail(message_ref);
CREATE TABLE IF NOT EXISTS deliveries (
  queue_id TEXT NOT NULL, user_id INTEGER NOT NULL, mailbox TEXT NOT NULL,
  uid INTEGER, reasons TEXT NOT NULL, delivered_at TEXT NOT NULL,
  PRIMARY KEY (queue_id, user_id));
CREATE TABLE IF NOT EXISTS feedback_outbox (
  id INTEGER PRIMARY KEY, event TEXT NOT NULL,
  claimed_until REAL NOT NULL DEFAULT 0);
"""

_REASON_SEPARATOR = "\n"


class SqliteStore:
    """:class:`imap.metadata.MetadataStore` on one SQLite file."""

    def __init__(self, path: str) -> None:
        self.path = path
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(parent, exist_ok=True)
        self._local = threading.local()
        self._db().executescript(_SCHEMA)

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")
            self._local.db = db
        return db

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # Users and preferences.

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

    # Mailboxes.

    def _next_uidvalidity(self, db: sqlite3.Connection) -> int:
        row = db.execute("SELECT value FROM meta WHERE key = 'uidvalidity'").fetchone()
        value = max(int(time.time()), (row[0] if row else 0) + 1)
        db.execute(
            "INSERT INTO meta (key, value) VALUES ('uidvalidity', ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (value,),
        )
        return value

    def _insert_mailbox(
        self, db: sqlite3.Connection, user_id: int, name: str, special_use: str | None
    ) -> MailboxRecord:
        uidvalidity = self._next_uidvalidity(db)
        cursor = db.execute(
            "INSERT INTO mailboxes (user_id, name, special_use, uidvalidity) "
            "VALUES (?, ?, ?, ?)",
            (user_id, name, special_use, uidvalidity),
        )
        return MailboxRecord(
            cursor.lastrowid, user_id, name, special_use, uidvalidity, 1
        )

    def _mailbox(
        self, db: sqlite3.Connection, user_id: int, name: str
    ) -> MailboxRecord | None:
        row = db.execute(
            "SELECT id, user_id, name, special_use, uidvalidity, uidnext "
            "FROM mailboxes WHERE user_id = ? AND name = ?",
            (user_id, name),
        ).fetchone()
        return MailboxRecord(*row) if row else None

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
            flags=tuple(_split(flags) for _, flags in rows),
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

    # Messages.

    def _message_ref(self, db: sqlite3.Connection, message: MessageInfo) -> int:
        db.execute(
            "INSERT OR IGNORE INTO messages (queue_id, raw_key, size, message_id, "
            "spam_score, label, model_version) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                message.queue_id,
                message.raw_key,
                message.size,
                message.message_id,
                message.spam_score,
                message.label,
                message.model_version,
            ),
        )
        (ref,) = db.execute(
            "SELECT id FROM messages WHERE queue_id = ?", (message.queue_id,)
        ).fetchone()
        return ref

    def _add(
        self,
        db: sqlite3.Connection,
        mailbox_id: int,
        ref: int,
        flags: Sequence[str],
        internaldate: str,
    ) -> int:
        (uid,) = db.execute(
            "UPDATE mailboxes SET uidnext = uidnext + 1, modseq = modseq + 1 "
            "WHERE id = ? RETURNING uidnext - 1",
            (mailbox_id,),
        ).fetchone()
        text = _join(flags)
        db.execute(
            "INSERT INTO mail (mailbox_id, uid, message_ref, flags, seen, "
            "internaldate) VALUES (?, ?, ?, ?, ?, ?)",
            (mailbox_id, uid, ref, text, int("\\Seen" in flags), internaldate),
        )
        return uid

    def append(
        self,
        mailbox_id: int,
        message: MessageInfo,
        flags: Sequence[str],
        internaldate: datetime,
        feedback: FeedbackSpec | None = None,
    ) -> int:
        with self._tx() as db:
            ref = self._message_ref(db, message)
            uid = self._add(db, mailbox_id, ref, flags, internaldate.isoformat())
            if feedback is not None:
                original = self._original(db, mailbox_id, message)
                self._queue(db, [_event(feedback, original)])
        return uid

    def _original(
        self, db: sqlite3.Connection, mailbox_id: int, message: MessageInfo
    ) -> MessageInfo:
        """The scored message an appended copy came from, found by Message-ID."""
        if not message.message_id:
            return message
        row = db.execute(
            "SELECT m.queue_id, m.raw_key, m.size, m.message_id, m.spam_score, "
            "m.label, m.model_version FROM messages m "
            "JOIN mail ON mail.message_ref = m.id "
            "JOIN mailboxes b ON b.id = mail.mailbox_id "
            "WHERE m.message_id = ? AND m.spam_score IS NOT NULL AND b.user_id = "
            "(SELECT user_id FROM mailboxes WHERE id = ?) LIMIT 1",
            (message.message_id, mailbox_id),
        ).fetchone()
        if row is None:
            row = db.execute(
                "SELECT queue_id, raw_key, size, message_id, spam_score, label, "
                "model_version FROM messages m WHERE message_id = ? "
                "AND spam_score IS NOT NULL AND EXISTS (SELECT 1 FROM deliveries d "
                "WHERE d.queue_id = m.queue_id AND d.user_id = "
                "(SELECT user_id FROM mailboxes WHERE id = ?)) LIMIT 1",
                (message.message_id, mailbox_id),
            ).fetchone()
        return MessageInfo(*row) if row else message

    def deliver(self, items: Sequence[DeliveryItem]) -> list[DeliveryRecord]:
        """Deliver a batch in one transaction; a repeated item is not duplicated."""
        records: list[DeliveryRecord] = []
        with self._tx() as db:
            for item in items:
                records.append(self._deliver_one(db, item))
        return records

    def _deliver_one(
        self, db: sqlite3.Connection, item: DeliveryItem
    ) -> DeliveryRecord:
        message = item.message
        (user_name,) = db.execute(
            "SELECT name FROM users WHERE id = ?", (item.user_id,)
        ).fetchone()
        done = db.execute(
            "SELECT mailbox, uid, reasons FROM deliveries "
            "WHERE queue_id = ? AND user_id = ?",
            (message.queue_id, item.user_id),
        ).fetchone()
        if done is not None:
            return DeliveryRecord(
                message.queue_id,
                user_name,
                done[0],
                done[1],
                tuple(done[2].split(_REASON_SEPARATOR)),
                duplicate=True,
            )
        target = self._mailbox(db, item.user_id, item.mailbox)
        if target is None:
            special = "\\Junk" if item.mailbox == "Junk" else None
            target = self._insert_mailbox(db, item.user_id, item.mailbox, special)
        ref = self._message_ref(db, message)
        uid = self._add(db, target.id, ref, (), item.internaldate.isoformat())
        db.execute(
            "INSERT INTO deliveries (queue_id, user_id, mailbox, uid, reasons, "
            "delivered_at) VALUES (?, ?, ?, ?, ?, ?)",
            (
                message.queue_id,
                item.user_id,
                item.mailbox,
                uid,
                _REASON_SEPARATOR.join(item.reasons),
                datetime.now(UTC).isoformat(),
            ),
        )
        return DeliveryRecord(
            message.queue_id,
            user_name,
            item.mailbox,
            uid,
            tuple(item.reasons),
            mailbox_id=target.id,
        )

    def delivery_reasons(self, queue_id: str, user_id: int) -> DeliveryRecord | None:
        row = (
            self._db()
            .execute(
                "SELECT d.mailbox, d.uid, d.reasons, u.name FROM deliveries d "
                "JOIN users u ON u.id = d.user_id "
                "WHERE d.queue_id = ? AND d.user_id = ?",
                (queue_id, user_id),
            )
            .fetchone()
        )
        if row is None:
            return None
        return DeliveryRecord(
            queue_id, row[3], row[0], row[1], tuple(row[2].split(_REASON_SEPARATOR))
        )

    def rows(self, mailbox_id: int, uids: Sequence[int]) -> list[MailRow]:
        db = self._db()
        out: list[MailRow] = []
        for start in range(0, len(uids), 500):
            chunk = list(uids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = db.execute(
                "SELECT mail.uid, mail.flags, mail.internaldate, m.size, m.raw_key, "
                "m.queue_id FROM mail JOIN messages m ON m.id = mail.message_ref "
                f"WHERE mail.mailbox_id = ? AND mail.uid IN ({marks}) "
                "ORDER BY mail.uid",
                (mailbox_id, *chunk),
            )
            out.extend(
                MailRow(
                    uid=uid,
                    flags=_split(flags),
                    internaldate=datetime.fromisoformat(date),
                    size=size,
                    raw_key=raw_key,
                    queue_id=queue_id,
                )
                for uid, flags, date, size, raw_key, queue_id in rows
            )
        return out

    def store_flags(
        self,
        mailbox_id: int,
        uids: Sequence[int],
        mode: FlagMode,
        flags: Sequence[str],
        feedback: FeedbackSpec | None = None,
    ) -> dict[int, tuple[str, ...]]:
        changed: dict[int, tuple[str, ...]] = {}
        events: list[FeedbackEvent] = []
        with self._tx() as db:
            for start in range(0, len(uids), 500):
                chunk = list(uids[start : start + 500])
                marks = ",".join("?" * len(chunk))
                rows = db.execute(
                    "SELECT mail.uid, mail.flags, m.queue_id, m.raw_key, m.size, "
                    "m.message_id, m.spam_score, m.label, m.model_version FROM mail "
                    "JOIN messages m ON m.id = mail.message_ref "
                    f"WHERE mail.mailbox_id = ? AND mail.uid IN ({marks})",
                    (mailbox_id, *chunk),
                ).fetchall()
                for uid, text, *info in rows:
                    new = _apply(_split(text), mode, flags)
                    changed[uid] = new
                    db.execute(
                        "UPDATE mail SET flags = ?, seen = ? "
                        "WHERE mailbox_id = ? AND uid = ?",
                        (_join(new), int("\\Seen" in new), mailbox_id, uid),
                    )
                    if feedback is not None:
                        events.append(_event(feedback, MessageInfo(*info)))
            db.execute(
                "UPDATE mailboxes SET modseq = modseq + 1 WHERE id = ?", (mailbox_id,)
            )
            self._queue(db, events)
        return changed

    def copy(
        self,
        source_id: int,
        uids: Sequence[int],
        target_id: int,
        move: bool,
        feedback: FeedbackSpec | None = None,
    ) -> list[tuple[int, int]]:
        with self._tx() as db:
            return self._copy(db, source_id, uids, target_id, move, feedback)

    def _copy(
        self,
        db: sqlite3.Connection,
        source_id: int,
        uids: Sequence[int],
        target_id: int,
        move: bool,
        feedback: FeedbackSpec | None,
    ) -> list[tuple[int, int]]:
        pairs: list[tuple[int, int]] = []
        events: list[FeedbackEvent] = []
        for start in range(0, len(uids), 500):
            chunk = list(uids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = db.execute(
                "SELECT mail.uid, mail.message_ref, mail.flags, mail.internaldate, "
                "m.queue_id, m.raw_key, m.size, m.message_id, m.spam_score, m.label, "
                "m.model_version FROM mail JOIN messages m ON m.id = mail.message_ref "
                f"WHERE mail.mailbox_id = ? AND mail.uid IN ({marks}) "
                "ORDER BY mail.uid",
                (source_id, *chunk),
            ).fetchall()
            for uid, ref, flags, date, *info in rows:
                new_uid = self._add(db, target_id, ref, _split(flags), date)
                pairs.append((uid, new_uid))
                if feedback is not None:
                    events.append(_event(feedback, MessageInfo(*info)))
        if move and pairs:
            self._delete(db, source_id, [uid for uid, _ in pairs])
        self._queue(db, events)
        return pairs

    def _delete(self, db: sqlite3.Connection, mailbox_id: int, uids: list[int]) -> None:
        for start in range(0, len(uids), 500):
            chunk = uids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            db.execute(
                f"DELETE FROM mail WHERE mailbox_id = ? AND uid IN ({marks})",
                (mailbox_id, *chunk),
            )
        db.execute(
            "UPDATE mailboxes SET modseq = modseq + 1 WHERE id = ?", (mailbox_id,)
        )

    def expunge(self, mailbox_id: int, uids: Sequence[int] | None) -> list[int]:
        with self._tx() as db:
            rows = db.execute(
                "SELECT uid FROM mail WHERE mailbox_id = ? "
                "AND flags LIKE '%\\Deleted%' ORDER BY uid",
                (mailbox_id,),
            ).fetchall()
            gone = [uid for (uid,) in rows]
            if uids is not None:
                wanted = set(uids)
                gone = [uid for uid in gone if uid in wanted]
            if gone:
                self._delete(db, mailbox_id, gone)
        return gone

    def find_message(self, user_id: int, ident: str) -> MessageInfo | None:
        """A message of this user by queue id or Message-ID header."""
        row = (
            self._db()
            .execute(
                "SELECT m.queue_id, m.raw_key, m.size, m.message_id, m.spam_score, "
                "m.label, m.model_version FROM messages m "
                "WHERE (m.queue_id = ? OR m.message_id = ?) AND ("
                "EXISTS (SELECT 1 FROM deliveries d WHERE d.queue_id = m.queue_id "
                "AND d.user_id = ?) OR EXISTS (SELECT 1 FROM mail JOIN mailboxes b "
                "ON b.id = mail.mailbox_id WHERE mail.message_ref = m.id "
                "AND b.user_id = ?)) ORDER BY m.spam_score IS NULL LIMIT 1",
                (ident, ident, user_id, user_id),
            )
            .fetchone()
        )
        return MessageInfo(*row) if row else None

    # Feedback outbox.

    def _queue(self, db: sqlite3.Connection, events: Sequence[FeedbackEvent]) -> None:
        db.executemany(
            "INSERT INTO feedback_outbox (event) VALUES (?)",
            [(event.to_json(),) for event in events],
        )

    def queue_feedback(self, events: Sequence[FeedbackEvent]) -> None:
        with self._tx() as db:
            self._queue(db, events)

    def take_feedback(
        self, limit: int, lease_s: float = 60.0
    ) -> list[tuple[int, FeedbackEvent]]:
        """Claim up to ``limit`` events for ``lease_s``; ack them once written.

        A claim keeps two drains from writing the same event; a drain that
        dies leaves its claim to expire, so the events are written later.
        """
        now = time.time()
        with self._tx() as db:
            rows = db.execute(
                "UPDATE feedback_outbox SET claimed_until = ? WHERE id IN ("
                "SELECT id FROM feedback_outbox WHERE claimed_until < ? "
                "ORDER BY id LIMIT ?) RETURNING id, event",
                (now + lease_s, now, limit),
            ).fetchall()
        rows.sort()
        return [(row_id, FeedbackEvent.from_json(text)) for row_id, text in rows]

    def ack_feedback(self, ids: Sequence[int]) -> None:
        with self._tx() as db:
            db.executemany(
                "DELETE FROM feedback_outbox WHERE id = ?", [(i,) for i in ids]
            )


def _split(text: str) -> tuple[str, ...]:
    return tuple(text.split()) if text else ()


def _join(flags: Sequence[str]) -> str:
    seen: dict[str, str] = {}
    for flag in flags:
        if flag != "\\Recent":
            seen.setdefault(flag.lower(), flag)
    return " ".join(seen.values())


def _apply(
    current: tuple[str, ...], mode: FlagMode, flags: Sequence[str]
) -> tuple[str, ...]:
    if mode == "set":
        return tuple(_join(flags).split())
    if mode == "add":
        return tuple(_join([*current, *flags]).split())
    if mode == "remove":
        drop = {flag.lower() for flag in flags}
        return tuple(flag for flag in current if flag.lower() not in drop)
    raise MetadataError(f"unknown flag mode {mode!r}")


def _event(spec: FeedbackSpec, message: MessageInfo) -> FeedbackEvent:
    return FeedbackEvent(
        user=spec.user,
        queue_id=message.queue_id,
        message_id=message.message_id,
        label=spec.label,
        source=spec.source,
        mailbox=spec.mailbox,
        created_at=datetime.now(UTC),
        model_score=message.spam_score,
        model_label=message.label,
        model_version=message.model_version,
    )
