"""The metadata store's records and interface.

Users, preferences, mailboxes, UIDs, flags and mailbox membership live in
a transactional store; message bytes stay on the storage root. The
default implementation is SQLite (:mod:`imap.sqlite_store`); a shared
database such as PostgreSQL can implement :class:`MetadataStore` too.
Every mutating method commits before it returns, so an IMAP OK follows a
committed transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from imap.feedback import FeedbackEvent
from imap.routing import UserPrefs

FlagMode = Literal["set", "add", "remove"]
SenderList = Literal["allow", "block"]


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: int
    name: str
    password_hash: str


@dataclass(frozen=True, slots=True)
class MailboxRecord:
    id: int
    user_id: int
    name: str
    special_use: str | None
    uidvalidity: int
    uidnext: int


@dataclass(frozen=True, slots=True)
class MailboxStatus:
    messages: int
    recent: int
    unseen: int
    uidnext: int
    uidvalidity: int


@dataclass(frozen=True, slots=True)
class MessageInfo:
    """A stored message object, shared by every mailbox that holds it."""

    queue_id: str
    raw_key: str
    size: int
    message_id: str = ""
    spam_score: float | None = None
    label: str | None = None
    model_version: str | None = None


@dataclass(frozen=True, slots=True)
class MailRow:
    """One message in one mailbox."""

    uid: int
    flags: tuple[str, ...]
    internaldate: datetime
    size: int
    raw_key: str
    queue_id: str


@dataclass(frozen=True, slots=True)
class MailboxView:
    """The UIDs and flags of a mailbox at one modification sequence."""

    modseq: int
    uids: tuple[int, ...]
    flags: tuple[tuple[str, ...], ...]
    first_recent_uid: int


@dataclass(frozen=True, slots=True)
class FeedbackSpec:
    """Asks a mutating call to queue feedback for the messages it touches."""

    user: str
    label: str
    source: str
    mailbox: str


@dataclass(frozen=True, slots=True)
class DeliveryItem:
    """One message for one recipient, with where it goes and why."""

    user_id: int
    mailbox: str
    message: MessageInfo
    internaldate: datetime
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """What a delivery did; ``duplicate`` when an earlier one had done it."""

    queue_id: str
    user: str
    mailbox: str
    uid: int | None
    reasons: tuple[str, ...]
    duplicate: bool = False
    mailbox_id: int | None = None


class MetadataStore(Protocol):
    """What the IMAP server and delivery need from a metadata database."""

    # Users and preferences.
    def upsert_user(
        self,
        name: str,
        password_hash: str,
        addresses: Sequence[str],
        spam_threshold: float | None,
    ) -> UserRecord: ...
    def get_user(self, name: str) -> UserRecord | None: ...
    def user_for_address(self, address: str) -> UserRecord | None: ...
    def get_prefs(self, user_id: int) -> UserPrefs: ...
    def set_spam_threshold(self, user_id: int, threshold: float | None) -> None: ...
    def add_sender(self, user_id: int, which: SenderList, value: str) -> None: ...
    def remove_sender(self, user_id: int, which: SenderList, value: str) -> bool: ...

    # Mailboxes.
    def ensure_mailbox(
        self, user_id: int, name: str, special_use: str | None = None
    ) -> MailboxRecord: ...
    def get_mailbox(self, user_id: int, name: str) -> MailboxRecord | None: ...
    def list_mailboxes(self, user_id: int) -> list[MailboxRecord]: ...
    def create_mailbox(self, user_id: int, name: str) -> MailboxRecord: ...
    def delete_mailbox(self, user_id: int, name: str) -> int: ...
    def rename_mailbox(self, user_id: int, old: str, new: str) -> int: ...
    def subscriptions(self, user_id: int) -> list[str]: ...
    def set_subscribed(self, user_id: int, name: str, subscribed: bool) -> None: ...
    def status(self, mailbox_id: int) -> MailboxStatus: ...
    def view(self, mailbox_id: int) -> MailboxView: ...
    def modseq(self, mailbox_id: int) -> int: ...
    def claim_recent(self, mailbox_id: int) -> int: ...

    # Messages.
    def append(
        self,
        mailbox_id: int,
        message: MessageInfo,
        flags: Sequence[str],
        internaldate: datetime,
        feedback: FeedbackSpec | None = None,
    ) -> int: ...
    def deliver(self, items: Sequence[DeliveryItem]) -> list[DeliveryRecord]: ...
    def rows(self, mailbox_id: int, uids: Sequence[int]) -> list[MailRow]: ...
    def store_flags(
        self,
        mailbox_id: int,
        uids: Sequence[int],
        mode: FlagMode,
        flags: Sequence[str],
        feedback: FeedbackSpec | None = None,
    ) -> dict[int, tuple[str, ...]]: ...
    def copy(
        self,
        source_id: int,
        uids: Sequence[int],
        target_id: int,
        move: bool,
        feedback: FeedbackSpec | None = None,
    ) -> list[tuple[int, int]]: ...
    def expunge(self, mailbox_id: int, uids: Sequence[int] | None) -> list[int]: ...
    def find_message(self, user_id: int, ident: str) -> MessageInfo | None: ...
    def delivery_reasons(
        self, queue_id: str, user_id: int
    ) -> DeliveryRecord | None: ...

    # Feedback outbox.
    def queue_feedback(self, events: Sequence[FeedbackEvent]) -> None: ...
    def take_feedback(
        self, limit: int, lease_s: float = 60.0
    ) -> list[tuple[int, FeedbackEvent]]: ...
    def ack_feedback(self, ids: Sequence[int]) -> None: ...
