"""The fixed train/validation/test split, by a hash of each file's name.

A file's split never changes as the corpus grows or is re-walked, and any
tool (including one written in another language) can reproduce it: take
the SHA-256 of the base name in UTF-8, read its first 8 hex digits as an
integer, and look at the value modulo 5.
"""

from __future__ import annotations

import hashlib
from typing import Literal

Split = Literal["train", "validation", "test"]

SPLIT_RULE = (
    "int(sha256(basename.encode('utf-8')).hexdigest()[:8], 16) % 5: "
    "0 = test, 1 = validation, else train"
)
"""Recorded in every model version's lineage."""


def split_of(basename: str) -> Split:
    """The split a file belongs to, from its base name alone."""
    if "/" in basename:
        raise ValueError(f"basename must not contain '/': {basename!r}")
    bucket = int(hashlib.sha256(basename.encode("utf-8")).hexdigest()[:8], 16) % 5
    if bucket == 0:
        return "test"
    if bucket == 1:
        return "validation"
    return "train"
