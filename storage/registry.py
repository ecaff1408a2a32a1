"""The model registry: versions under ``models/`` on the storage root.

Layout::

    models/<version>/model.json          how to rebuild the network
    models/<version>/weights.safetensors LoRA adapters and head
    models/<version>/metrics.json        test-split figures at the threshold
    models/<version>/lineage.json        corpus, content hash, split, parents
    models/serving.json                  {"version": "<the serving one>"}

The same fsspec code runs on a local folder and on S3. A registry that has
never had a version serves the bootstrap model bundled in ``serve/models/``.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
from datetime import UTC, datetime
from hashlib import sha256
from pathlib import Path
from typing import Any

from storage.errors import StorageError
from storage.root import StorageRoot

log = logging.getLogger("mailray.storage")

BUNDLED_DIR = Path(__file__).resolve().parent.parent / "serve" / "models"
SERVING_FILE = "serving.json"
REQUIRED_FILES = ("model.json", "weights.safetensors")
_COMPLETE_MARKER = ".complete"


class RegistryError(StorageError):
    """A registry operation failed for a version (or a registry file)."""

    def __init__(self, version: str, reason: str) -> None:
        super().__init__(version, reason)
        self.version = version
        self.reason = reason

    def __str__(self) -> str:
        return f"model version {self.version!r}: {self.reason}"


def new_version(now: datetime | None = None) -> str:
    """A sortable, unique version name: ``vYYYYMMDD-HHMMSS-xxxxxx``."""
    now = now or datetime.now(UTC)
    return f"v{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def _check_version(version: str) -> None:
    if not version or "/" in version or version.startswith(".") or version == "..":
        raise ValueError(f"version is not a valid name: {version!r}")


def bundled_versions(folder: Path = BUNDLED_DIR) -> list[str]:
    """Bootstrap versions shipped with the package, oldest first."""
    if not folder.is_dir():
        return []
    return sorted(
        p.name for p in folder.iterdir() if p.is_dir() and (p / "model.json").is_file()
    )


class ModelRegistry:
    """Versions of the spam model on a storage root."""

    def __init__(
        self,
        root: StorageRoot,
        cache_dir: str | os.PathLike[str] | None = None,
        bundled_dir: Path = BUNDLED_DIR,
    ) -> None:
        self.root = root
        self.bundled_dir = bundled_dir
        default_cache = (
            Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
            / "mailray"
            / "models"
            / sha256(root.url.encode()).hexdigest()[:12]
        )
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache

    @property
    def _fs(self):
        return self.root.fs

    def _path(self, *parts: str) -> str:
        return self.root.path("models", *parts)

    def list_versions(self) -> list[str]:
        """Published versions on the root, oldest first (bundled ones apart)."""
        try:
            entries = self._fs.ls(self._path(), detail=True)
        except FileNotFoundError:
            return []
        names = [
            e["name"].rstrip("/").rsplit("/", 1)[-1]
            for e in entries
            if e.get("type") == "directory"
        ]
        return sorted(n for n in names if self._fs.exists(self._path(n, "model.json")))

    def publish(
        self,
        folder: str | os.PathLike[str],
        *,
        metrics: dict[str, Any],
        lineage: dict[str, Any],
        version: str | None = None,
        serve: bool = False,
    ) -> str:
        """Copy a version folder into the registry; returns its version name.

        ``metrics.json`` and ``lineage.json`` are written from the arguments;
        every other file of the folder (weights, spec, reports) is copied.
        """
        folder = Path(folder)
        for name in REQUIRED_FILES:
            if not (folder / name).is_file():
                raise ValueError(f"folder lacks {name}: {folder}")
        version = version or new_version()
        _check_version(version)
        if version in self.list_versions():
            raise RegistryError(version, "already published")

        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.name not in ("metrics.json", "lineage.json"):
                relative = path.relative_to(folder).as_posix()
                target = self._path(version, relative)
                self._fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
                self._fs.put_file(str(path), target)
        self._write_json(self._path(version, "metrics.json"), metrics)
        self._write_json(self._path(version, "lineage.json"), lineage)
        log.info("published model version %s", version)
        if serve:
            self.set_serving(version)
        return version

    def serving_version(self) -> str:
        """The version the classifier should load.

        ``models/serving.json`` when it exists, else the newest bundled
        bootstrap version; RegistryError when there is neither.
        """
        try:
            with self._fs.open(self._path(SERVING_FILE), "rb") as f:
                return str(json.load(f)["version"])
        except FileNotFoundError:
            pass
        except (KeyError, ValueError) as exc:
            raise RegistryError(SERVING_FILE, f"unreadable: {exc}") from exc
        bundled = bundled_versions(self.bundled_dir)
        if not bundled:
            raise RegistryError("", "no serving version and no bundled model")
        return bundled[-1]

    def set_serving(self, version: str) -> None:
        """Point ``models/serving.json`` at a published or bundled version."""
        _check_version(version)
        known = self.list_versions() + bundled_versions(self.bundled_dir)
        if version not in known:
            raise RegistryError(version, "no such version")
        self._fs.makedirs(self._path(), exist_ok=True)
        self._write_json(self._path(SERVING_FILE), {"version": version})
        log.info("serving model version %s", version)

    def local_path(self, version: str) -> Path:
        """A local folder holding the version's files (downloaded for S3)."""
        _check_version(version)
        if version in self.list_versions():
            if self.root.is_local:
                return Path(self._path(version))
            return self._download(version)
        if version in bundled_versions(self.bundled_dir):
            return self.bundled_dir / version
        raise RegistryError(version, "no such version")

    def read_json(self, version: str, name: str) -> dict[str, Any]:
        """``metrics.json`` or ``lineage.json`` (or ``model.json``) of a version."""
        path = self.local_path(version) / name
        return json.loads(path.read_text())

    def _download(self, version: str) -> Path:
        target = self.cache_dir / version
        if (target / _COMPLETE_MARKER).is_file():
            return target
        partial = self.cache_dir / f".{version}.partial-{secrets.token_hex(3)}"
        prefix = self._path(version)
        for remote in self._fs.find(prefix):
            relative = remote[len(prefix) :].lstrip("/")
            local = partial / relative
            local.parent.mkdir(parents=True, exist_ok=True)
            self._fs.get_file(remote, str(local))
        (partial / _COMPLETE_MARKER).write_text(version)
        try:
            partial.rename(target)
        except OSError:  # another process finished first
            shutil.rmtree(partial, ignore_errors=True)
        return target

    def _write_json(self, path: str, data: dict[str, Any]) -> None:
        payload = (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()
        self._fs.pipe_file(path, payload)
