"""Sequence sets (``1:3,7,9:*``) and their resolution against a mailbox."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from imap.errors import ProtocolError

STAR = -1
"""Stands for ``*``: the largest number in use."""


@dataclass(frozen=True, slots=True)
class SequenceSet:
    """Ranges of message numbers or UIDs, ``STAR`` meaning the largest."""

    ranges: tuple[tuple[int, int], ...]

    @classmethod
    def parse(cls, text: str) -> SequenceSet:
        ranges = []
        for part in text.split(","):
            if not part:
                raise ProtocolError(f"bad sequence set {text!r}")
            low, _, high = part.partition(":")
            first = _number(low, text)
            ranges.append((first, _number(high, text) if high else first))
        return cls(tuple(ranges))

    def bounds(self, largest: int) -> list[tuple[int, int]]:
        """Ranges with ``*`` replaced and ends ordered."""
        out = []
        for low, high in self.ranges:
            low = largest if low == STAR else low
            high = largest if high == STAR else high
            out.append((min(low, high), max(low, high)))
        return out

    def seqs(self, count: int) -> list[int]:
        """Message sequence numbers (1-based) in a mailbox of ``count``."""
        chosen: set[int] = set()
        for low, high in self.bounds(count):
            if count == 0 or low > count:
                continue
            chosen.update(range(max(low, 1), min(high, count) + 1))
        return sorted(chosen)

    def uids(self, uids: Sequence[int]) -> list[int]:
        """The members of sorted ``uids`` that the set names.

        Per RFC 3501, ``n:*`` always includes the largest UID even when it
        is below ``n``.
        """
        if not uids:
            return []
        chosen: set[int] = set()
        for low, high in self.bounds(uids[-1]):
            start = bisect_left(uids, low)
            end = bisect_right(uids, high)
            chosen.update(uids[start:end])
        return sorted(chosen)

    def contains_uid(self, uid: int, largest: int) -> bool:
        return any(low <= uid <= high for low, high in self.bounds(largest))


def _number(text: str, whole: str) -> int:
    if text == "*":
        return STAR
    if not text.isdigit() or text.startswith("0"):
        raise ProtocolError(f"bad sequence set {whole!r}")
    return int(text)


def compress_uids(uids: Sequence[int]) -> str:
    """``[1, 2, 3, 7]`` as ``1:3,7``, order kept (for COPYUID/APPENDUID)."""
    parts: list[str] = []
    start = prev = None
    for uid in uids:
        if prev is not None and uid == prev + 1:
            prev = uid
            continue
        if start is not None:
            parts.append(str(start) if start == prev else f"{start}:{prev}")
        start = prev = uid
    if start is not None:
        parts.append(str(start) if start == prev else f"{start}:{prev}")
    return ",".join(parts)
