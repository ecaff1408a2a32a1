"""Frozen records that travel between pipeline stages on Ray queues."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ingest.types import ParsedMessage, ReceivedMessage
from serve.verdict import Verdict


@dataclass(frozen=True, slots=True)
class ParsedWork:
    """Output of the parse stage: the message, its parts and model text."""

    received: ReceivedMessage
    parsed: ParsedMessage
    text: str

    @property
    def queue_id(self) -> str:
        return self.received.queue_id


@dataclass(frozen=True, slots=True)
class ClassifiedWork:
    """Output of the classify stage: ready to store."""

    received: ReceivedMessage
    parsed: ParsedMessage
    verdict: Verdict

    @property
    def queue_id(self) -> str:
        return self.received.queue_id


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message that kept failing; stored with its error, never dropped."""

    received: ReceivedMessage
    stage: str
    error: str
    attempts: int
    failed_at: datetime

    @property
    def queue_id(self) -> str:
        return self.received.queue_id
