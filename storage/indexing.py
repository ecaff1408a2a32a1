"""Putting stored messages into the vector table.

Two ways in, one code path: :func:`index_messages` embeds and upserts rows
of the ``messages`` table (the store stage calls it after a Parquet batch
is durable), and :func:`catch_up` finds stored messages the vector table
lacks and indexes them (after an embedding failure, for a store filled
before search existed, or from ``mailray search --reindex``). The Parquet
tables stay the record; the vector table can always be rebuilt from them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

from serve.embedding import Embedder
from storage.root import StorageRoot
from storage.vectors import VectorStore, document_row, message_embedding_text

log = logging.getLogger("mailray.storage")

MESSAGE_COLUMNS = (
    "queue_id",
    "received_at",
    "mail_from",
    "rcpt_tos",
    "header_from",
    "subject",
    "label",
    "spam_score",
    "body_text",
)
"""What a vector-table row needs from the ``messages`` table."""


def index_messages(
    store: VectorStore,
    embedder: Embedder,
    messages: Sequence[dict[str, Any]],
    batch_size: int = 32,
) -> int:
    """Embed and upsert ``messages`` rows; returns how many were written."""
    if not messages:
        return 0
    vectors = embedder.embed(
        [message_embedding_text(m) for m in messages], batch_size=batch_size
    )
    rows = [document_row(m, v) for m, v in zip(messages, vectors, strict=True)]
    written = store.upsert(rows)
    log.debug("%s indexed %d messages", messages[0]["queue_id"], written)
    return written


def catch_up(
    root: StorageRoot,
    embedder: Embedder,
    store: VectorStore | None = None,
    chunk_rows: int = 512,
) -> int:
    """Index every stored message missing from the vector table.

    Returns how many were added; indexes are maintained afterwards.
    """
    store = store or VectorStore(root)
    known = store.queue_ids()
    added = 0
    for chunk in stored_messages(root, chunk_rows, skip=known):
        added += index_messages(store, embedder, chunk)
        log.info("%s catch-up: %d messages indexed so far", chunk[0]["queue_id"], added)
    if added or store.exists():
        store.maintain()
    return added


def stored_messages(
    root: StorageRoot, chunk_rows: int, skip: set[str] | None = None
) -> Iterator[list[dict[str, Any]]]:
    """Rows of the ``messages`` table in chunks, leaving out ``skip`` ids."""
    from storage.sql import connect

    skip = skip or set()
    con = connect(root)
    try:
        relation = con.sql(
            f"SELECT {', '.join(MESSAGE_COLUMNS)} FROM messages ORDER BY received_at"
        )
        reader = relation.to_arrow_reader(chunk_rows)
        for batch in reader:
            rows = [r for r in batch.to_pylist() if r["queue_id"] not in skip]
            if rows:
                yield rows
    finally:
        con.close()
