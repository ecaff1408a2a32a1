"""The SQLite store's schema, connections and row-level helpers.

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

from imap.errors import MetadataError
from imap.feedback import FeedbackEvent
from imap.metadata import (
    FeedbackSpec,
    FlagMode,
    MailboxRecord,
    MessageInfo,
)

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

REASON_SEPARATOR = "\n"


class SqliteBase:
    """One SQLite file; each thread gets its own connection."""

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
        text = join_flags(flags)
        db.execute(
            "INSERT INTO mail (mailbox_id, uid, message_ref, flags, seen, "
            "internaldate) VALUES (?, ?, ?, ?, ?, ?)",
            (mailbox_id, uid, ref, text, int("\\Seen" in flags), internaldate),
        )
        return uid

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
                new_uid = self._add(db, target_id, ref, split_flags(flags), date)
                pairs.append((uid, new_uid))
                if feedback is not None:
                    events.append(feedback_event(feedback, MessageInfo(*info)))
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

    def _queue(self, db: sqlite3.Connection, events: Sequence[FeedbackEvent]) -> None:
        db.executemany(
            "INSERT INTO feedback_outbox (event) VALUES (?)",
            [(event.to_json(),) for event in events],
        )


def split_flags(text: str) -> tuple[str, ...]:
    return tuple(text.split()) if text else ()


def join_flags(flags: Sequence[str]) -> str:
    seen: dict[str, str] = {}
    for flag in flags:
        if flag != "\\Recent":
            seen.setdefault(flag.lower(), flag)
    return " ".join(seen.values())


def apply_flags(
    current: tuple[str, ...], mode: FlagMode, flags: Sequence[str]
) -> tuple[str, ...]:
    if mode == "set":
        return tuple(join_flags(flags).split())
    if mode == "add":
        return tuple(join_flags([*current, *flags]).split())
    if mode == "remove":
        drop = {flag.lower() for flag in flags}
        return tuple(flag for flag in current if flag.lower() not in drop)
    raise MetadataError(f"unknown flag mode {mode!r}")


def feedback_event(spec: FeedbackSpec, message: MessageInfo) -> FeedbackEvent:
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
