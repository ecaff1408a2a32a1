"""The training package's exceptions; each survives pickling."""

from __future__ import annotations


class TrainingError(Exception):
    """Base of everything training raises."""


class CorpusError(TrainingError):
    """A corpus folder cannot be used."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(path, reason)
        self.path = path
        self.reason = reason

    def __str__(self) -> str:
        return f"corpus {self.path}: {self.reason}"
