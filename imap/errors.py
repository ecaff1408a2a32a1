"""The IMAP package's exception tree.

Every error that can reach a client maps to a tagged ``NO`` or ``BAD``
reply at the session boundary; none becomes a stack trace on the wire.
Fields are passed to ``Exception.__init__`` so instances pickle across
Ray actor boundaries.
"""

from __future__ import annotations


class ImapError(Exception):
    """Base of everything :mod:`imap` raises on purpose."""


class ProtocolError(ImapError):
    """The client sent something the grammar does not allow (tagged BAD)."""

    def __init__(self, reason: str, code: str | None = None) -> None:
        super().__init__(reason, code)
        self.reason = reason
        self.code = code

    def __str__(self) -> str:
        return self.reason


class CommandFailed(ImapError):
    """A well-formed command that cannot be carried out (tagged NO)."""

    def __init__(self, reason: str, code: str | None = None) -> None:
        super().__init__(reason, code)
        self.reason = reason
        self.code = code

    def __str__(self) -> str:
        return self.reason


class LiteralTooLarge(ProtocolError):
    """A literal above ``imap.max_literal_bytes``."""

    def __init__(self, size: int, max_bytes: int, tag: str | None = None) -> None:
        super().__init__(f"literal of {size} bytes exceeds {max_bytes}", "TOOBIG")
        self.args = (size, max_bytes, tag)
        self.size = size
        self.max_bytes = max_bytes
        self.tag = tag
        """The tag of the command that carried it, to address the reply."""


class MetadataError(ImapError):
    """The metadata store refused an operation."""

    def __init__(self, reason: str, code: str | None = None) -> None:
        super().__init__(reason, code)
        self.reason = reason
        self.code = code

    def __str__(self) -> str:
        return self.reason


class UnknownUser(MetadataError):
    """No user of that name or address."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown user {name!r}", "NONEXISTENT")
        self.args = (name,)
        self.name = name
