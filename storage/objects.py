"""Raw messages and attachment payloads as objects under the root.

- ``objects/raw/<queue_id[:2]>/<queue_id>.eml``: the message byte for byte
  as stored (mailray's Received header, then the DATA after dot-unstuffing).
- ``objects/attachments/<sha256[:2]>/<sha256>``: each payload once.
"""

from __future__ import annotations

import hashlib

from storage.errors import ObjectNotFound
from storage.files import write_atomic
from storage.root import StorageRoot


def raw_key(queue_id: str) -> str:
    if len(queue_id) < 2 or "/" in queue_id:
        raise ValueError(f"queue_id {queue_id!r} is not a mailray queue id")
    return f"objects/raw/{queue_id[:2]}/{queue_id}.eml"


def attachment_key(sha256: str) -> str:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError(f"sha256 {sha256!r} is not a lowercase hex digest")
    return f"objects/attachments/{sha256[:2]}/{sha256}"


class RawStore:
    """Raw RFC 822 messages keyed by queue id."""

    def __init__(self, root: StorageRoot) -> None:
        self.root = root

    def put(self, queue_id: str, raw: bytes) -> str:
        """Store ``raw``; idempotent (a retry rewrites the same bytes)."""
        key = raw_key(queue_id)
        write_atomic(self.root, self.root.path(key), raw)
        return key

    def get(self, key: str) -> bytes:
        try:
            return self.root.fs.cat_file(self.root.path(key))
        except FileNotFoundError as exc:
            raise ObjectNotFound(key) from exc


class AttachmentStore:
    """Attachment payloads, written once per content hash."""

    def __init__(self, root: StorageRoot) -> None:
        self.root = root
        self._known: set[str] = set()

    def put(self, payload: bytes, sha256: str | None = None) -> tuple[str, bool]:
        """Store ``payload``; returns its key and whether it was new."""
        digest = sha256 or hashlib.sha256(payload).hexdigest()
        key = attachment_key(digest)
        if digest in self._known:
            return key, False
        path = self.root.path(key)
        if self.root.fs.exists(path):
            self._known.add(digest)
            return key, False
        write_atomic(self.root, path, payload)
        self._known.add(digest)
        return key, True

    def get(self, sha256: str) -> bytes:
        key = attachment_key(sha256)
        try:
            return self.root.fs.cat_file(self.root.path(key))
        except FileNotFoundError as exc:
            raise ObjectNotFound(key) from exc
