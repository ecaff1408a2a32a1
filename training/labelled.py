"""Labelled model texts from the storage root: feedback and corpus snapshots.

Feedback events name messages by queue id; the raw message comes from
``objects/raw/...`` and becomes the model's text through ``serve.text``,
the same text the classifier scored. ``mailray train`` leaves three
snapshots of the corpus it was given under ``datasets/``:

- ``datasets/eval/data.parquet``: the test split, the gate's fixed set;
- ``datasets/replay/data.parquet``: the train split, replayed in every
  fine-tuning run so the model does not forget the base corpus;
- ``datasets/validation/data.parquet``: the validation split, where each
  candidate picks its own operating threshold, as ``mailray train`` does.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq

from serve.text import message_text
from storage.errors import ObjectNotFound
from storage.files import write_atomic
from storage.objects import RawStore, raw_key
from storage.root import StorageRoot
from training.trigger import FeedbackLabel

log = logging.getLogger("mailray.training")

EVAL_SET = "eval"
REPLAY_SET = "replay"
VALIDATION_SET = "validation"
_SNAPSHOTS = ((EVAL_SET, "test"), (REPLAY_SET, "train"), (VALIDATION_SET, "validation"))
_LABEL_IDS = {"ham": 0, "spam": 1}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_DATASET_SCHEMA = pa.schema(
    [("key", pa.string()), ("text", pa.string()), ("label", pa.int64())]
)


@dataclass(frozen=True, slots=True)
class LabelledText:
    key: str
    """A queue id for feedback, ``group/file`` for corpus examples."""
    text: str
    label: int
    """0 = ham, 1 = spam."""
    target: float | None = None
    """The spam probability to train towards, where it is not the label: the
    parent model's own score, for replayed corpus examples (distillation)."""


def dataset_path(root: StorageRoot, name: str) -> str:
    return root.path("datasets", name, "data.parquet")


def write_dataset(root: StorageRoot, name: str, rows: Sequence[LabelledText]) -> str:
    """Replace the named dataset whole; returns its path."""
    table = pa.Table.from_pylist(
        [{"key": r.key, "text": r.text, "label": r.label} for r in rows],
        schema=_DATASET_SCHEMA,
    )
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    path = dataset_path(root, name)
    write_atomic(root, path, sink.getvalue())
    return path


def read_dataset(root: StorageRoot, name: str) -> list[LabelledText]:
    """The named dataset, or an empty list when ``mailray train`` never ran."""
    try:
        with root.fs.open(dataset_path(root, name), "rb") as handle:
            table = pq.read_table(handle)
    except FileNotFoundError:
        return []
    return [LabelledText(**row) for row in table.to_pylist()]


def data_hash(rows: Iterable[LabelledText]) -> str:
    """SHA-256 over keys, labels and texts, in key order: the run's lineage."""
    digest = hashlib.sha256()
    for row in sorted(rows, key=lambda r: (r.key, r.label)):
        digest.update(f"{row.key}:{row.label}\n".encode())
        digest.update(hashlib.sha256(row.text.encode()).digest())
    return digest.hexdigest()


def read_feedback(root: StorageRoot) -> list[FeedbackLabel]:
    """Every feedback event with a queue id and a spam/ham label."""
    from storage.sql import connect

    folder = root.path("tables", "feedback")
    root.fs.invalidate_cache()
    if not root.fs.exists(folder) or not root.fs.glob(folder + "/**/*.parquet"):
        return []
    con = connect(root)
    rows = con.sql(
        # Epoch microseconds: DuckDB hands out TIMESTAMPTZ only through pytz.
        "SELECT user, queue_id, label, epoch_us(created_at) FROM feedback "
        "WHERE queue_id IS NOT NULL AND queue_id <> '' "
        "AND label IN ('spam', 'ham') ORDER BY created_at"
    ).fetchall()
    return [
        FeedbackLabel(user, queue_id, label, from_epoch_us(at_us))
        for user, queue_id, label, at_us in rows
    ]


def from_epoch_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def since(
    labels: Iterable[FeedbackLabel], after: datetime | None
) -> list[FeedbackLabel]:
    """Labels recorded strictly after ``after`` (all of them for None)."""
    return [e for e in labels if after is None or e.recorded_at > after]


def message_label(labels: Sequence[FeedbackLabel]) -> dict[str, int]:
    """One label per message: the latest, whoever gave it."""
    out: dict[str, int] = {}
    for event in sorted(labels, key=lambda e: e.recorded_at):
        out[event.queue_id] = _LABEL_IDS[event.label]
    return out


def feedback_texts(
    root: StorageRoot, labels: Sequence[FeedbackLabel]
) -> list[LabelledText]:
    """Model texts of the labelled messages still in the store."""
    store = RawStore(root)
    out = []
    for queue_id, label in sorted(message_label(labels).items()):
        try:
            raw = store.get(raw_key(queue_id))
        except (ObjectNotFound, ValueError):
            log.warning("%s: labelled but not in the store; skipped", queue_id)
            continue
        out.append(LabelledText(queue_id, message_text(raw), label))
    return out


def held_out(key: str, fraction: float) -> bool:
    """Whether a feedback message is kept out of training (stable by key)."""
    digest = hashlib.sha256(("holdout:" + key).encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10_000 < fraction * 10_000


def snapshot_corpus(root: StorageRoot, examples, texts) -> dict[str, int]:
    """Copy a corpus's splits under the root: eval, replay and validation.

    ``examples`` are :class:`training.corpus.Example` records and ``texts``
    their model texts by path, as ``mailray train`` has them.
    """
    counts = {}
    for name, split in _SNAPSHOTS:
        rows = [
            LabelledText(f"{e.group}/{e.path.name}", texts[e.path], e.label)
            for e in examples
            if e.split == split
        ]
        write_dataset(root, name, rows)
        counts[name] = len(rows)
    log.info(
        "datasets: %d eval, %d replay and %d validation examples under datasets/",
        counts[EVAL_SET],
        counts[REPLAY_SET],
        counts[VALIDATION_SET],
    )
    return counts
