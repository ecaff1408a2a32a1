"""Per-user preferences and labels as plain functions (CLI, HTTP API, tests).

Each function takes the metadata store and a user name and raises
:class:`imap.errors.UnknownUser` for a name that does not exist.
"""

from __future__ import annotations

from datetime import UTC, datetime

from imap.errors import MetadataError
from imap.feedback import HAM, SPAM, FeedbackEvent
from imap.metadata import MetadataStore, SenderList
from imap.routing import UserPrefs
from imap.users import require_user


def get_prefs(store: MetadataStore, user: str) -> UserPrefs:
    return store.get_prefs(require_user(store, user).id)


def set_spam_threshold(
    store: MetadataStore, user: str, threshold: float | None
) -> None:
    """``None`` returns the user to the model's own label."""
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must lie in [0, 1], got {threshold!r}")
    store.set_spam_threshold(require_user(store, user).id, threshold)


def add_to_list(store: MetadataStore, user: str, which: SenderList, entry: str) -> str:
    """Allow or block a sender address or a whole domain; returns the entry."""
    normalized = _entry(entry)
    if which not in ("allow", "block"):
        raise ValueError(f"which must be 'allow' or 'block', got {which!r}")
    store.add_sender(require_user(store, user).id, which, normalized)
    return normalized


def remove_from_list(
    store: MetadataStore, user: str, which: SenderList, entry: str
) -> bool:
    if which not in ("allow", "block"):
        raise ValueError(f"which must be 'allow' or 'block', got {which!r}")
    return store.remove_sender(require_user(store, user).id, which, _entry(entry))


def _entry(entry: str) -> str:
    value = entry.strip().lower().removeprefix("@")
    local, at, domain = value.rpartition("@")
    if not value or " " in value or (at and (not local or not domain)):
        raise ValueError(f"entry must be an address or a domain, got {entry!r}")
    return value


def record_feedback(
    store: MetadataStore,
    user: str,
    message_id: str,
    label: str,
    source: str = "api",
) -> FeedbackEvent:
    """Queue a label for one of the user's messages (queue id or Message-ID).

    The event enters the outbox that the feedback pump writes to Parquet;
    call :meth:`imap.feedback_table.FeedbackTable.drain` to write it now.
    """
    if label not in (SPAM, HAM):
        raise ValueError(f"label must be 'spam' or 'ham', got {label!r}")
    record = require_user(store, user)
    message = store.find_message(record.id, message_id)
    if message is None:
        raise MetadataError(f"{user} has no message {message_id!r}", "NONEXISTENT")
    event = FeedbackEvent(
        user=user,
        queue_id=message.queue_id,
        message_id=message.message_id or message_id,
        label=label,
        source=source,
        mailbox="",
        created_at=datetime.now(UTC),
        model_score=message.spam_score,
        model_label=message.label,
        model_version=message.model_version,
    )
    store.queue_feedback([event])
    return event
