"""Whole-file writes that are either complete or absent.

On a local root: temporary name, fsync, rename, fsync of the folder, so a
crash never leaves half a file under a final name and a finished write
survives power loss. On S3 a single PUT is atomic already.
"""

from __future__ import annotations

import os
import uuid

from storage.root import StorageRoot


def write_atomic(root: StorageRoot, path: str, data: bytes) -> None:
    """Write ``data`` at ``path`` (a :meth:`StorageRoot.path`)."""
    if not root.is_local:
        root.fs.pipe_file(path, data)
        return
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(folder)


def fsync_dir(folder: str) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
