"""The serve package's exceptions; each survives pickling."""

from __future__ import annotations


class ServeError(Exception):
    """Base of everything the serve package raises."""


class ModelLoadError(ServeError):
    """A model version cannot be loaded: the classifier must not start."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(path, reason)
        self.path = path
        self.reason = reason

    def __str__(self) -> str:
        return f"cannot load model from {self.path}: {self.reason}"


class BadMessageError(ServeError):
    """A request the classifier refuses (too large, not bytes)."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason, status)
        self.reason = reason
        self.status = status

    def __str__(self) -> str:
        return self.reason
