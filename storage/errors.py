"""The storage package's exceptions: one tree, picklable across actors."""

from __future__ import annotations


class StorageError(Exception):
    """Base of everything storage raises."""


class ObjectNotFound(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key

    def __str__(self) -> str:
        return f"no object at {self.key}"


class QueryError(StorageError):
    """A SQL query failed; ``sql`` is what was run."""

    def __init__(self, sql: str, reason: str) -> None:
        super().__init__(sql, reason)
        self.sql = sql
        self.reason = reason

    def __str__(self) -> str:
        return self.reason
