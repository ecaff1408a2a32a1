"""Messages, deliveries and the feedback outbox in the SQLite store."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from imap.feedback import FeedbackEvent
from imap.metadata import (
    DeliveryItem,
    DeliveryRecord,
    FeedbackSpec,
    FlagMode,
    MailRow,
    MessageInfo,
)
from imap.sqlite_base import (
    REASON_SEPARATOR,
    SqliteBase,
    apply_flags,
    feedback_event,
    join_flags,
    split_flags,
)


class MessagesMixin(SqliteBase):
    """Messages in mailboxes: delivery, append, flags, copy, expunge; feedback."""

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
                self._queue(db, [feedback_event(feedback, original)])
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
                tuple(done[2].split(REASON_SEPARATOR)),
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
                REASON_SEPARATOR.join(item.reasons),
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
            queue_id, row[3], row[0], row[1], tuple(row[2].split(REASON_SEPARATOR))
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
                    flags=split_flags(flags),
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
                    new = apply_flags(split_flags(text), mode, flags)
                    changed[uid] = new
                    db.execute(
                        "UPDATE mail SET flags = ?, seen = ? "
                        "WHERE mailbox_id = ? AND uid = ?",
                        (join_flags(new), int("\\Seen" in new), mailbox_id, uid),
                    )
                    if feedback is not None:
                        events.append(feedback_event(feedback, MessageInfo(*info)))
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
