"""The LanceDB table ``lance/messages``: one row per stored message.

Each row holds the message's base-encoder embedding (see
:mod:`serve.embedding`), the fields search results show and filter on,
and ``text`` (subject and body, truncated) for full-text search. Rows are
keyed by ``queue_id`` and written with ``merge_insert``, so adding the same
message twice leaves one row.

Indexes, managed by :meth:`VectorStore.maintain` (a pure decision,
:func:`index_actions`, says what to do):

- a native (Lance, not tantivy) full-text index on ``text``, built with
  the first rows. Rows added later are still found (Lance scans what the
  index does not cover) and are folded into the index by ``optimize``
  once ``fts_refresh_rows`` of them are waiting;
- an IVF_PQ vector index (cosine) once the table holds ``ann_min_rows``
  rows. Below that a flat scan is exact and fast enough (a few ms at
  10,000 rows). Rows added afterwards are searched flat until the next
  ``optimize`` folds them in.

The table lives under the storage root, so it is on local disk or on S3
(``StorageRoot.s3_settings()`` gives the endpoint and credentials).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from serve.vector_space import EMBEDDING_DIM, embedding_text
from storage.errors import StorageError
from storage.root import StorageRoot

log = logging.getLogger("mailray.storage")

# Lance's Rust logger warns twice per hybrid query that a future release
# will stop adding _distance/_score to the sub-queries' columns (a hybrid
# query cannot name both); errors still show. Read at lancedb's import.
os.environ.setdefault("LANCEDB_LOG", "error")

FOLDER = "lance"
TABLE_NAME = "messages"
FTS_INDEX = "text_idx"
VECTOR_INDEX = "vector_idx"

SCHEMA = pa.schema(
    [
        ("queue_id", pa.string()),
        ("vector", pa.list_(pa.float32(), EMBEDDING_DIM)),
        ("received_at", pa.timestamp("us", tz="UTC")),
        ("mail_from", pa.string()),
        ("rcpt_tos", pa.list_(pa.string())),
        ("header_from", pa.string()),
        ("subject", pa.string()),
        ("label", pa.string()),
        ("spam_score", pa.float64()),
        ("text", pa.string()),
    ]
)


class VectorStoreError(StorageError):
    """The vector table could not be read or written."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(url, reason)
        self.url = url
        self.reason = reason

    def __str__(self) -> str:
        return f"vector table at {self.url}: {self.reason}"


@dataclass(frozen=True)
class IndexPolicy:
    """When indexes are built and refreshed."""

    ann_min_rows: int = 50_000
    """Build the IVF_PQ index once the table has this many rows."""
    ann_refresh_rows: int = 20_000
    """Fold unindexed rows into the vector index past this many."""
    fts_refresh_rows: int = 1_000
    """Fold unindexed rows into the full-text index past this many."""
    ann_sub_vectors: int = 48
    """PQ sub-vectors; must divide the dimension (384)."""

    def __post_init__(self) -> None:
        if EMBEDDING_DIM % self.ann_sub_vectors:
            raise ValueError(
                f"ann_sub_vectors must divide {EMBEDDING_DIM}: {self.ann_sub_vectors}"
            )
        for name in ("ann_min_rows", "ann_refresh_rows", "fts_refresh_rows"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")


@dataclass(frozen=True)
class IndexState:
    """What the table's indexes cover right now."""

    rows: int
    has_fts: bool = False
    fts_unindexed: int = 0
    has_ann: bool = False
    ann_unindexed: int = 0


def index_actions(state: IndexState, policy: IndexPolicy) -> tuple[str, ...]:
    """What to do to the indexes: ``create_fts``, ``create_ann``, ``optimize``."""
    actions: list[str] = []
    if state.rows == 0:
        return ()
    if not state.has_fts:
        actions.append("create_fts")
    if not state.has_ann and state.rows >= policy.ann_min_rows:
        actions.append("create_ann")
    stale_fts = state.has_fts and state.fts_unindexed >= policy.fts_refresh_rows
    stale_ann = state.has_ann and state.ann_unindexed >= policy.ann_refresh_rows
    if stale_fts or stale_ann:
        actions.append("optimize")
    return tuple(actions)


def ann_partitions(rows: int) -> int:
    """IVF partitions: about the square root of the row count."""
    return max(1, min(4096, int(rows**0.5)))


def document_row(message: dict[str, Any], vector: np.ndarray) -> dict[str, Any]:
    """A vector-table row from a ``messages`` table row and its embedding."""
    return {
        "queue_id": message["queue_id"],
        "vector": np.asarray(vector, dtype=np.float32),
        "received_at": message["received_at"],
        "mail_from": message.get("mail_from") or "",
        "rcpt_tos": [r.lower() for r in message.get("rcpt_tos") or []],
        "header_from": message.get("header_from") or "",
        "subject": message.get("subject") or "",
        "label": message.get("label") or "",
        "spam_score": message.get("spam_score"),
        "text": message_embedding_text(message),
    }


def message_embedding_text(message: dict[str, Any]) -> str:
    return embedding_text(message.get("subject") or "", message.get("body_text") or "")


def lance_storage_options(root: StorageRoot) -> dict[str, str]:
    """LanceDB's object-store options for the root (empty for local roots)."""
    if root.is_local:
        return {}
    settings = root.s3_settings()
    options = {"aws_region": settings["region"]}
    if settings["key"]:
        options["aws_access_key_id"] = settings["key"]
        options["aws_secret_access_key"] = settings["secret"]
    if settings["endpoint_url"]:
        options["aws_endpoint"] = settings["endpoint_url"]
        options["allow_http"] = (
            "true" if settings["endpoint_url"].startswith("http:") else "false"
        )
        options["aws_virtual_hosted_style_request"] = "false"
    return options


class VectorStore:
    """The vector table of one storage root."""

    def __init__(self, root: StorageRoot, policy: IndexPolicy | None = None) -> None:
        self.root = root
        self.policy = policy or IndexPolicy()
        self.url = root.url_of(FOLDER)
        self._db: Any = None
        self._table: Any = None

    def table(self, create: bool = True) -> Any:
        """The LanceDB table; created empty if missing and ``create``."""
        if self._table is not None:
            return self._table
        import lancedb

        try:
            if self._db is None:
                self._db = lancedb.connect(
                    self.url, storage_options=lance_storage_options(self.root)
                )
            if TABLE_NAME in self._db.list_tables().tables:
                self._table = self._db.open_table(TABLE_NAME)
            elif create:
                self._table = self._db.create_table(
                    TABLE_NAME, schema=SCHEMA, exist_ok=True
                )
        except (OSError, ValueError, RuntimeError) as exc:
            raise VectorStoreError(self.url, str(exc)) from exc
        return self._table

    def exists(self) -> bool:
        return self.table(create=False) is not None

    def count(self) -> int:
        table = self.table(create=False)
        return 0 if table is None else table.count_rows()

    def upsert(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert or replace rows by ``queue_id``; returns how many were given."""
        if not rows:
            return 0
        data = pa.Table.from_pylist(list(_unique_by_queue_id(rows)), schema=SCHEMA)
        table = self.table()
        (
            table.merge_insert("queue_id")
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute(data)
        )
        return data.num_rows

    def queue_ids(self) -> set[str]:
        table = self.table(create=False)
        if table is None:
            return set()
        # A plain query with no limit returns every row; only the key is read.
        rows = table.search().select(["queue_id"]).limit(None).to_arrow()
        return set(rows.column("queue_id").to_pylist())

    def vector_of(self, queue_id: str) -> np.ndarray | None:
        table = self.table(create=False)
        if table is None:
            return None
        found = (
            table.search()
            .where(f"queue_id = {sql_string(queue_id)}")
            .select(["vector"])
            .limit(1)
            .to_arrow()
        )
        if not found.num_rows:
            return None
        return np.asarray(found.column("vector")[0].as_py(), dtype=np.float32)

    def index_state(self) -> IndexState:
        table = self.table(create=False)
        if table is None:
            return IndexState(rows=0)
        names = {index.name for index in table.list_indices()}
        state = {"rows": table.count_rows()}
        if FTS_INDEX in names:
            stats = table.index_stats(FTS_INDEX)
            state.update(has_fts=True, fts_unindexed=stats.num_unindexed_rows)
        if VECTOR_INDEX in names:
            stats = table.index_stats(VECTOR_INDEX)
            state.update(has_ann=True, ann_unindexed=stats.num_unindexed_rows)
        return IndexState(**state)

    def maintain(self) -> tuple[str, ...]:
        """Create or refresh indexes as the policy says; returns what was done."""
        from lancedb.index import FTS, IvfPq

        state = self.index_state()
        actions = index_actions(state, self.policy)
        table = self.table(create=False)
        for action in actions:
            if action == "create_fts":
                table.create_index("text", config=FTS(), name=FTS_INDEX, replace=True)
            elif action == "create_ann":
                config = IvfPq(
                    distance_type="cosine",
                    num_partitions=ann_partitions(state.rows),
                    num_sub_vectors=self.policy.ann_sub_vectors,
                )
                table.create_index(
                    "vector", config=config, name=VECTOR_INDEX, replace=True
                )
            elif action == "optimize":
                table.optimize()
        if actions:
            log.info("vector table %s (%d rows): %s", self.url, state.rows, actions)
        return actions


def sql_string(value: str) -> str:
    """A SQL string literal for a Lance filter."""
    return "'" + value.replace("'", "''") + "'"


def _unique_by_queue_id(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    # merge_insert rejects a source with the same key twice; the last one wins.
    by_id = {row["queue_id"]: row for row in rows}
    return list(by_id.values())
