"""A small store of fixture messages, written by the real storage code."""

from __future__ import annotations

from collections import defaultdict
from email.utils import getaddresses
from pathlib import Path

from ingest.mime import parse_message
from ingest.records import ClassifiedWork
from ingest.spool import new_queue_id
from ingest.types import ReceivedMessage
from serve.embedding import Embedder
from serve.verdict import Verdict
from storage import schema
from storage.indexing import catch_up
from storage.objects import RawStore
from storage.root import StorageRoot
from storage.tables import Tables

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "search"
SPAM = ("pills", "lottery", "loan", "casino")
"""Fixture names stored with a spam verdict; the others are ham."""


def fixture_work(name: str) -> ClassifiedWork:
    raw = (FIXTURES / f"{name}.eml").read_bytes()
    parsed = parse_message(raw)
    assert parsed.date_utc is not None, name
    rcpt_tos = tuple(a for _, a in getaddresses([parsed.to]))
    score = 0.97 if name in SPAM else 0.03
    return ClassifiedWork(
        received=ReceivedMessage(
            queue_id=new_queue_id(),
            mail_from=f"bounce-{name}@example.org",
            rcpt_tos=rcpt_tos,
            received_at=parsed.date_utc,
            peer="127.0.0.1",
            raw=raw,
        ),
        parsed=parsed,
        verdict=Verdict(
            spam_score=score,
            label="spam" if name in SPAM else "ham",
            model_version="fixture-v1",
            threshold=0.5,
        ),
    )


def write_messages(root: StorageRoot, works: list[ClassifiedWork]) -> None:
    """Raw objects and ``messages`` Parquet rows, as the store stage writes."""
    raw_store, tables = RawStore(root), Tables(root)
    rows = defaultdict(list)
    for work in works:
        raw_store.put(work.queue_id, work.received.raw)
        rows[schema.partition_of(work.received.received_at)].append(
            schema.message_row(work)
        )
    for partition, values in rows.items():
        tables.write("messages", partition, schema.to_table(values, schema.MESSAGES))


def build_store(root: StorageRoot, embedder: Embedder) -> dict[str, str]:
    """Every fixture message stored and indexed; returns name -> queue_id."""
    names = sorted(p.stem for p in FIXTURES.glob("*.eml"))
    works = [fixture_work(n) for n in names]
    write_messages(root, works)
    catch_up(root, embedder)
    return {n: w.queue_id for n, w in zip(names, works, strict=True)}


def corpus_work(path: Path, label: int, index: int) -> ClassifiedWork:
    """A corpus file as the store stage would see it, its verdict the truth."""
    from datetime import UTC, datetime, timedelta

    raw = path.read_bytes()
    return ClassifiedWork(
        received=ReceivedMessage(
            queue_id=new_queue_id(),
            mail_from="corpus@example.org",
            rcpt_tos=("test@example.com",),
            received_at=datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=index),
            peer="127.0.0.1",
            raw=raw,
        ),
        parsed=parse_message(raw),
        verdict=Verdict(
            spam_score=float(label),
            label="spam" if label else "ham",
            model_version="truth",
            threshold=0.5,
        ),
    )
