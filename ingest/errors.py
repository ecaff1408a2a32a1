"""The ingest package's exceptions: one tree, picklable across actors."""

from __future__ import annotations


class IngestError(Exception):
    """Base of everything ingest raises."""


class SpoolError(IngestError):
    """The local spool could not write, read or remove a message."""

    def __init__(self, queue_id: str, reason: str) -> None:
        super().__init__(queue_id, reason)
        self.queue_id = queue_id
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.queue_id}: {self.reason}"


class QueueFull(IngestError):
    """A bounded stage queue has no room; SMTP answers 451 4.3.2."""

    def __init__(self, queue_name: str, depth: int) -> None:
        super().__init__(queue_name, depth)
        self.queue_name = queue_name
        self.depth = depth

    def __str__(self) -> str:
        return f"queue {self.queue_name} is full ({self.depth} items)"


class StageFailure(IngestError):
    """A pipeline stage failed on one message (it will be retried)."""

    def __init__(self, queue_id: str, stage: str, reason: str) -> None:
        super().__init__(queue_id, stage, reason)
        self.queue_id = queue_id
        self.stage = stage
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.queue_id}: {self.stage} failed: {self.reason}"
