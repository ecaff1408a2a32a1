"""Search over stored mail: semantic, full-text and hybrid.

    from storage.search import search, more_like_this
    hits = search(root, "invoice overdue", user="bob@example.com", mode="hybrid")
    similar = more_like_this(root, hits[0].queue_id, label="spam")

Every hit carries ``queue_id``, which joins with the DuckDB ``messages``
view for everything else about the message. Scores depend on the mode:
cosine similarity for ``vector`` (1 is identical), BM25 for ``text``, the
reciprocal-rank-fusion score for ``hybrid``. Higher is better, except that
a message whose subject is the query itself (case and spacing aside) comes
first in every mode: whoever types a subject wants that message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Literal

from storage.root import StorageRoot
from storage.vectors import VectorStore, sql_string

if TYPE_CHECKING:
    from serve.embedding import Embedder

Mode = Literal["vector", "text", "hybrid"]
MODES: tuple[str, ...] = ("vector", "text", "hybrid")
LABELS: tuple[str, ...] = ("spam", "ham")
MAX_LIMIT = 1000
_COLUMNS = [
    "queue_id",
    "subject",
    "header_from",
    "label",
    "spam_score",
    "received_at",
    "rcpt_tos",
]

# Asked for by name: Lance warns when it adds them unasked.
_SCORE_COLUMNS = {
    "vector": ["_distance"],
    "text": ["_score"],
    "hybrid": [],
}


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One result; ``queue_id`` joins with the ``messages`` view."""

    queue_id: str
    score: float
    subject: str
    from_: str
    label: str
    spam_score: float | None
    received_at: datetime
    rcpt_tos: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "queue_id": self.queue_id,
            "score": self.score,
            "subject": self.subject,
            "from": self.from_,
            "label": self.label,
            "spam_score": self.spam_score,
            "date": self.received_at.isoformat(),
            "rcpt_tos": list(self.rcpt_tos),
        }


def filter_clause(
    user: str | tuple[str, ...] | None = None,
    label: str | None = None,
    since: date | datetime | None = None,
    exclude_queue_id: str | None = None,
) -> str | None:
    """The Lance SQL filter for the search options (``None``: no filter).

    ``user`` is a recipient address (or several: any of them matches).
    ``since`` as a date means from its midnight UTC.
    """
    parts: list[str] = []
    if user:
        addresses = (user,) if isinstance(user, str) else tuple(user)
        listed = ", ".join(sql_string(a.lower()) for a in addresses)
        parts.append(f"array_has_any(rcpt_tos, make_array({listed}))")
    if label is not None:
        if label not in LABELS:
            raise ValueError(f"label must be one of {LABELS}: {label!r}")
        parts.append(f"label = {sql_string(label)}")
    if since is not None:
        moment = _utc(since)
        parts.append(f"received_at >= TIMESTAMP '{moment:%Y-%m-%d %H:%M:%S}'")
    if exclude_queue_id:
        parts.append(f"queue_id != {sql_string(exclude_queue_id)}")
    return " AND ".join(parts) or None


def search(
    root: StorageRoot,
    text: str,
    *,
    user: str | tuple[str, ...] | None = None,
    label: str | None = None,
    since: date | datetime | None = None,
    limit: int = 10,
    mode: Mode = "vector",
    embedder: Embedder | None = None,
    store: VectorStore | None = None,
) -> list[SearchHit]:
    """The best ``limit`` messages for ``text``, best first."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}: {mode!r}")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("text must be a non-empty string")
    _check_limit(limit)
    where = filter_clause(user, label, since)
    table = (store or VectorStore(root)).table(create=False)
    if table is None:
        return []

    if mode == "text":
        query = table.search(text, query_type="fts")
    else:
        if embedder is None:
            from serve.embedding import shared_embedder

            embedder = shared_embedder()
        vector = embedder.embed([text])[0]
        if mode == "vector":
            query = table.search(vector).distance_type("cosine")
        else:
            from lancedb.rerankers import RRFReranker

            query = (
                table.search(query_type="hybrid")
                .vector(vector)
                .text(text)
                .distance_type("cosine")
                .rerank(RRFReranker())
            )
    return exact_subject_first(_run(query, where, limit, mode), text)


def _normalised(text: str) -> str:
    return " ".join(text.lower().split())


def exact_subject_first(hits: list[SearchHit], text: str) -> list[SearchHit]:
    """``hits`` with those whose subject is ``text`` moved to the front.

    Spam runs often repeat a subject with a random tag appended; ranking
    fusion weighs the tag little, so the exact subject is promoted here.
    """
    wanted = _normalised(text)
    return sorted(hits, key=lambda hit: _normalised(hit.subject or "") != wanted)


def more_like_this(
    root: StorageRoot,
    queue_id: str,
    *,
    user: str | tuple[str, ...] | None = None,
    label: str | None = None,
    since: date | datetime | None = None,
    limit: int = 10,
    store: VectorStore | None = None,
) -> list[SearchHit]:
    """Messages nearest to a stored one (itself left out), best first.

    Raises ``KeyError`` when ``queue_id`` is not in the vector table.
    """
    _check_limit(limit)
    store = store or VectorStore(root)
    vector = store.vector_of(queue_id)
    if vector is None:
        raise KeyError(queue_id)
    where = filter_clause(user, label, since, exclude_queue_id=queue_id)
    query = store.table(create=False).search(vector).distance_type("cosine")
    return _run(query, where, limit, "vector")


def _run(query: Any, where: str | None, limit: int, mode: str) -> list[SearchHit]:
    if where:
        query = query.where(where, prefilter=True)
    rows = query.select(_COLUMNS + _SCORE_COLUMNS[mode]).limit(limit).to_list()
    return [_hit(row, mode) for row in rows]


def _hit(row: dict[str, Any], mode: str) -> SearchHit:
    if mode == "vector":
        score = 1.0 - float(row["_distance"])
    elif mode == "text":
        score = float(row["_score"])
    else:
        score = float(row["_relevance_score"])
    return SearchHit(
        queue_id=row["queue_id"],
        score=score,
        subject=row["subject"],
        from_=row["header_from"],
        label=row["label"],
        spam_score=row["spam_score"],
        received_at=row["received_at"],
        rcpt_tos=tuple(row["rcpt_tos"] or ()),
    )


def _check_limit(limit: int) -> None:
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be an integer 1..{MAX_LIMIT}: {limit!r}")


def _utc(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)
