"""Raw message bytes on the storage root, read and written byte for byte."""

from __future__ import annotations

import os
import threading
import uuid
from collections import OrderedDict

from storage.root import StorageRoot


def raw_key_for(message_key: str) -> str:
    """``objects/raw/<id[:2]>/<id>.eml``, the layout everyone follows."""
    return f"objects/raw/{message_key[:2]}/{message_key}.eml"


def new_message_key() -> str:
    """A fresh id for a message that arrived over IMAP APPEND."""
    return "ap" + uuid.uuid4().hex


class RawObjects:
    """Reads raw messages with a small LRU cache; writes them durably."""

    def __init__(self, root: StorageRoot, cache_bytes: int = 64 * 1024 * 1024) -> None:
        self.root = root
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._cache_bytes = cache_bytes
        self._cached = 0
        self._lock = threading.Lock()

    def read(self, raw_key: str) -> bytes:
        with self._lock:
            data = self._cache.get(raw_key)
            if data is not None:
                self._cache.move_to_end(raw_key)
                return data
        data = self.root.fs.cat_file(self.root.path(raw_key))
        with self._lock:
            if raw_key not in self._cache and len(data) <= self._cache_bytes // 8:
                self._cache[raw_key] = data
                self._cached += len(data)
                while self._cached > self._cache_bytes:
                    _, dropped = self._cache.popitem(last=False)
                    self._cached -= len(dropped)
        return data

    def write(self, raw_key: str, data: bytes) -> None:
        """Store ``data`` and return only once it is durable.

        Local roots are written to a temporary file, fsynced, renamed into
        place and the folder fsynced; S3 confirms a PUT when it is stored.
        """
        path = self.root.path(raw_key)
        if not self.root.is_local:
            self.root.fs.pipe_file(path, data)
            return
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        temporary = f"{path}.{uuid.uuid4().hex}.tmp"
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
