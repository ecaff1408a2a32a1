"""Parquet files under ``tables/<name>/date=YYYY-MM-DD/`` and their compaction.

Files are written whole (see :mod:`storage.files`). Compaction merges a
partition's small files into one ``c-*.parquet`` whose metadata lists the
files it supersedes. Views skip superseded files by name, and the files
themselves are deleted only a grace period later, so a query running while
a compaction happens never finds a listed file gone.
"""

from __future__ import annotations

import io
import json
import logging
import time
import uuid

import pyarrow as pa
import pyarrow.parquet as pq

from storage.files import write_atomic
from storage.root import StorageRoot

log = logging.getLogger("mailray.storage")

_SOURCES_KEY = b"mailray.compacted_from"
_COMPACTED_PREFIX = "c-"


class Tables:
    def __init__(self, root: StorageRoot) -> None:
        self.root = root

    def folder(self, name: str, partition: str | None = None) -> str:
        return self.root.path("tables", name, partition or "")

    def write(
        self, name: str, partition: str, table: pa.Table, prefix: str = "b-"
    ) -> str:
        """Write one Parquet file into the partition; returns its path."""
        sink = io.BytesIO()
        pq.write_table(table, sink, compression="zstd")
        filename = f"{prefix}{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.parquet"
        path = f"{self.folder(name, partition)}/{filename}"
        write_atomic(self.root, path, sink.getvalue())
        return path

    def partitions(self, name: str) -> list[str]:
        folder = self.folder(name)
        if not self.root.fs.exists(folder):
            return []
        entries = self.root.fs.ls(folder, detail=True)
        return sorted(
            e["name"].rstrip("/").rsplit("/", 1)[-1]
            for e in entries
            if e["type"] == "directory" and "=" in e["name"].rsplit("/", 1)[-1]
        )

    def files(self, name: str, partition: str) -> list[str]:
        folder = self.folder(name, partition)
        if not self.root.fs.exists(folder):
            return []
        return sorted(
            p
            for p in self.root.fs.ls(folder, detail=False)
            if p.endswith(".parquet") and not p.rsplit("/", 1)[-1].startswith(".")
        )

    def read(self, path: str, columns: list[str] | None = None) -> pa.Table:
        with self.root.fs.open(path, "rb") as f:
            return pq.read_table(f, columns=columns)

    def column_values(self, name: str, column: str) -> set[str]:
        """Every value of ``column`` in table ``name`` (for de-duplication)."""
        values: set[str] = set()
        for partition in self.partitions(name):
            for path in self.files(name, partition):
                values.update(self.read(path, [column]).column(0).to_pylist())
        return values

    def compact(self, name: str, partition: str, min_files: int) -> int:
        """Merge the partition's live files into one if there are
        ``min_files``; returns how many files the new one supersedes.

        The superseded files stay for a while (see :meth:`collect_garbage`)
        so a query that listed them a moment ago can still read them; views
        skip them by name (:meth:`superseded`)."""
        paths = self.files(name, partition)
        superseded = self.superseded_names(paths)
        live = [p for p in paths if p.rsplit("/", 1)[-1] not in superseded]
        if len(live) < min_files:
            return 0
        merged = pa.concat_tables(
            [self.read(p) for p in live], promote_options="default"
        )
        # Everything already superseded stays listed, so dropping an older
        # compacted file later never brings its own sources back to life.
        sources = sorted({p.rsplit("/", 1)[-1] for p in live} | superseded)
        merged = merged.replace_schema_metadata(
            {**(merged.schema.metadata or {}), _SOURCES_KEY: json.dumps(sources)}
        )
        self.write(name, partition, merged, prefix=_COMPACTED_PREFIX)
        log.info("compacted %s/%s: %d files", name, partition, len(live))
        return len(live)

    def superseded(self, name: str) -> set[str]:
        """Paths of files that a compacted file already holds."""
        out: set[str] = set()
        for partition in self.partitions(name):
            paths = self.files(name, partition)
            by_name = {p.rsplit("/", 1)[-1]: p for p in paths}
            out.update(by_name[n] for n in self.superseded_names(paths) if n in by_name)
        return out

    def collect_garbage(self, name: str, min_age_s: float = 0.0) -> int:
        """Delete superseded files whose compacted file is ``min_age_s`` old
        (0: all of them, as at start-up after a crash); returns the count."""
        removed = 0
        now = time.time()
        for partition in self.partitions(name):
            paths = self.files(name, partition)
            present = {p.rsplit("/", 1)[-1]: p for p in paths}
            for path in paths:
                filename = path.rsplit("/", 1)[-1]
                if not filename.startswith(_COMPACTED_PREFIX):
                    continue
                if now - _written_at_s(filename) < min_age_s:
                    continue
                leftovers = [present[s] for s in self._sources(path) if s in present]
                self._remove(leftovers)
                for source in leftovers:
                    present.pop(source.rsplit("/", 1)[-1], None)
                removed += len(leftovers)
        return removed

    def superseded_names(self, paths: list[str]) -> set[str]:
        """File names that the compacted files among ``paths`` hold."""
        names: set[str] = set()
        for path in paths:
            if path.rsplit("/", 1)[-1].startswith(_COMPACTED_PREFIX):
                names.update(self._sources(path))
        return names

    def _sources(self, path: str) -> list[str]:
        with self.root.fs.open(path, "rb") as f:
            metadata = pq.read_schema(f).metadata or {}
        return json.loads(metadata.get(_SOURCES_KEY, b"[]"))

    def _remove(self, paths: list[str]) -> None:
        for path in paths:
            try:
                self.root.fs.rm_file(path)
            except FileNotFoundError:
                continue


def _written_at_s(filename: str) -> float:
    """The write time encoded in a file name (``<prefix><ns>-<id>.parquet``)."""
    try:
        return int(filename[len(_COMPACTED_PREFIX) :].split("-", 1)[0]) / 1e9
    except ValueError:
        return 0.0
