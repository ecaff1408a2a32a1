"""Spam and ham labels that users give by moving mail or setting flags.

The decisions are pure functions of mailbox names and flags. Events are
written to the metadata store's outbox in the same transaction as the
move that caused them (so an OK never loses one), and a background pump
(:mod:`imap.feedback_table`) drains the outbox to Parquet under
``tables/feedback/``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime

SPAM = "spam"
HAM = "ham"
JUNK_KEYWORD = "$Junk"
NOT_JUNK_KEYWORD = "$NotJunk"


def is_junk(mailbox: str) -> bool:
    """Junk or a sub-folder of it."""
    return mailbox == "Junk" or mailbox.startswith("Junk/")


def is_trash(mailbox: str) -> bool:
    return mailbox == "Trash" or mailbox.startswith("Trash/")


def label_for_transfer(source: str | None, destination: str) -> str | None:
    """The label a COPY, MOVE or APPEND from ``source`` into ``destination`` gives.

    ``source`` is ``None`` for APPEND. Into Junk is spam; out of Junk
    (anywhere but Trash) is ham; within Junk, or elsewhere, no label.
    """
    into_junk = is_junk(destination)
    from_junk = source is not None and is_junk(source)
    if into_junk and not from_junk:
        return SPAM
    if from_junk and not into_junk and not is_trash(destination):
        return HAM
    return None


def label_for_flags(added: Iterable[str]) -> str | None:
    """``$Junk`` added is spam, ``$NotJunk`` added is ham; both or neither, none."""
    lowered = {flag.lower() for flag in added}
    junk = JUNK_KEYWORD.lower() in lowered
    not_junk = NOT_JUNK_KEYWORD.lower() in lowered
    if junk == not_junk:
        return None
    return SPAM if junk else HAM


@dataclass(frozen=True, slots=True)
class FeedbackEvent:
    """One label given by a user, with the verdict the model had given."""

    user: str
    queue_id: str
    message_id: str
    label: str
    source: str
    """How it was given: imap-move, imap-copy, imap-append, imap-flag, cli, api."""
    mailbox: str
    created_at: datetime
    """UTC."""
    model_score: float | None
    model_label: str | None
    model_version: str | None

    def to_json(self) -> str:
        values = asdict(self)
        values["created_at"] = self.created_at.isoformat()
        return json.dumps(values)

    @classmethod
    def from_json(cls, text: str) -> FeedbackEvent:
        values = json.loads(text)
        values["created_at"] = datetime.fromisoformat(values["created_at"])
        return cls(**values)
