"""Parquet files under ``tables/<name>/date=YYYY-MM-DD/`` and their compaction.

Files are written whole (see :mod:`storage.files`). Compaction merges a
partition's small files into one ``c-*.parquet`` whose metadata lists the
files it replaces; the sources are deleted afterwards, and a compaction cut
short by a crash is finished at the next start by :meth:`finish_compactions`.
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
        """Merge the partition into one file if it has ``min_files``; returns
        the number of files replaced."""
        paths = self.files(name, partition)
        if len(paths) < min_files:
            return 0
        merged = pa.concat_tables(
            [self.read(p) for p in paths], promote_options="default"
        )
        sources = [p.rsplit("/", 1)[-1] for p in paths]
        merged = merged.replace_schema_metadata(
            {**(merged.schema.metadata or {}), _SOURCES_KEY: json.dumps(sources)}
        )
        self.write(name, partition, merged, prefix=_COMPACTED_PREFIX)
        self._remove(paths)
        log.info("compacted %s/%s: %d files", name, partition, len(paths))
        return len(paths)

    def finish_compactions(self, name: str) -> int:
        """Delete sources a crashed compaction left next to its result."""
        removed = 0
        for partition in self.partitions(name):
            paths = self.files(name, partition)
            present = {p.rsplit("/", 1)[-1]: p for p in paths}
            for path in paths:
                if not path.rsplit("/", 1)[-1].startswith(_COMPACTED_PREFIX):
                    continue
                with self.root.fs.open(path, "rb") as f:
                    metadata = pq.read_schema(f).metadata or {}
                sources = json.loads(metadata.get(_SOURCES_KEY, b"[]"))
                leftovers = [present[s] for s in sources if s in present]
                self._remove(leftovers)
                removed += len(leftovers)
        return removed

    def _remove(self, paths: list[str]) -> None:
        for path in paths:
            try:
                self.root.fs.rm_file(path)
            except FileNotFoundError:
                continue
