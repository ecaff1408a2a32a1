"""Tables the notebooks show, as DuckDB queries over the stored tables.

Each function takes a connection from :func:`storage.sql.connect` (or a
storage root) and returns a pandas DataFrame, so a notebook only plots.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from storage.root import StorageRoot

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

    from storage.search import SearchHit


def root_from_env() -> StorageRoot:
    """The storage root a notebook works on: ``MAILRAY_STORAGE_ROOT`` and the
    other ``MAILRAY_STORAGE_*`` settings, read as the platform reads them."""
    from cluster.config import load_config

    return StorageRoot.from_config(load_config().storage)


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the connection has a view for ``name`` (a table with files)."""
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
        [name],
    ).fetchone()
    return bool(found and found[0])


def daily_volume(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Messages, spam and spam rate per UTC day received."""
    return con.sql(
        """
        SELECT CAST(received_at AS DATE) AS day,
               count(*) AS messages,
               count(*) FILTER (WHERE label = 'spam') AS spam,
               round(count(*) FILTER (WHERE label = 'spam') / count(*), 4)
                   AS spam_rate,
               sum(size) AS bytes
        FROM messages GROUP BY day ORDER BY day
        """
    ).df()


def top_sender_domains(con: duckdb.DuckDBPyConnection, limit: int = 20) -> pd.DataFrame:
    """Envelope sender domains by message count, with their spam share."""
    return con.execute(
        """
        SELECT lower(split_part(mail_from, '@', 2)) AS domain,
               count(*) AS messages,
               round(avg(CASE WHEN label = 'spam' THEN 1 ELSE 0 END), 4)
                   AS spam_share,
               round(avg(spam_score), 4) AS mean_spam_score
        FROM messages GROUP BY domain ORDER BY messages DESC, domain LIMIT ?
        """,
        [limit],
    ).df()


def spam_score_histogram(
    con: duckdb.DuckDBPyConnection, bins: int = 20
) -> pd.DataFrame:
    """Counts of ``spam_score`` in ``bins`` equal bins over [0, 1]."""
    return con.execute(
        """
        SELECT least(floor(spam_score * ?), ? - 1) / ? AS bin_start,
               count(*) AS messages
        FROM messages WHERE spam_score IS NOT NULL
        GROUP BY bin_start ORDER BY bin_start
        """,
        [bins, bins, bins],
    ).df()


def feedback_by_day(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Feedback events per day and label, and how often the model disagreed."""
    if not has_table(con, "feedback"):
        import pandas as pd

        return pd.DataFrame(columns=["day", "label", "events", "model_disagreed"])
    return con.sql(
        """
        SELECT CAST(created_at AS DATE) AS day, label,
               count(*) AS events,
               count(*) FILTER (WHERE model_label IS NOT NULL
                                AND model_label != label) AS model_disagreed
        FROM feedback GROUP BY day, label ORDER BY day, label
        """
    ).df()


def recent_feedback(con: duckdb.DuckDBPyConnection, limit: int = 20) -> pd.DataFrame:
    """The latest feedback events joined with the stored message's subject."""
    if not has_table(con, "feedback"):
        import pandas as pd

        return pd.DataFrame()
    return con.execute(
        """
        SELECT f.created_at, f.user, f.label, f.source, f.model_label,
               f.model_score, f.model_version, m.subject, f.queue_id
        FROM feedback f LEFT JOIN messages m USING (queue_id)
        ORDER BY f.created_at DESC LIMIT ?
        """,
        [limit],
    ).df()


def registry_history(root: StorageRoot) -> pd.DataFrame:
    """Every model version (published and bundled) with its test figures."""
    import pandas as pd

    from storage.registry import ModelRegistry, bundled_versions

    registry = ModelRegistry(root)
    serving = registry.serving_version()
    rows: list[dict[str, Any]] = []
    published = registry.list_versions()
    for version in bundled_versions() + published:
        metrics = _json_or_empty(registry, version, "metrics.json")
        lineage = _json_or_empty(registry, version, "lineage.json")
        rows.append(
            {
                "version": version,
                "source": "published" if version in published else "bundled",
                "serving": version == serving,
                "parents": ", ".join(lineage.get("parents", []) or []),
                **{
                    k: metrics.get(k)
                    for k in ("precision", "recall", "f1", "fpr", "roc_auc")
                },
            }
        )
    return pd.DataFrame(rows)


def vector_sample(root: StorageRoot, limit: int = 5000) -> pd.DataFrame:
    """Up to ``limit`` rows of the vector table: vector, label, subject."""
    from storage.vectors import VectorStore

    table = VectorStore(root).table(create=False)
    if table is None:
        import pandas as pd

        return pd.DataFrame(columns=["vector", "label", "subject"])
    return (
        table.search().select(["vector", "label", "subject"]).limit(limit).to_pandas()
    )


def misclassified(corpus: str, outcome: Any, limit: int = 20) -> pd.DataFrame:
    """The examples an evaluation got wrong, most confident mistakes first.

    ``outcome`` is what ``training.evaluate.evaluate`` returned for the
    ``outcome.split`` split of ``corpus`` (no ``groups``).
    """
    import pandas as pd

    from ingest.mime import parse_message
    from training.corpus import select, walk_corpus

    examples = select(walk_corpus(corpus, require_both=False), outcome.split)
    threshold = outcome.report.threshold
    rows = []
    for example, score in zip(examples, outcome.scores, strict=True):
        predicted = int(score >= threshold)
        if predicted == example.label:
            continue
        parsed = parse_message(example.path.read_bytes())
        rows.append(
            {
                "truth": "spam" if example.label else "ham",
                "spam_score": round(score, 4),
                "group": example.group,
                "subject": parsed.subject,
                "file": example.path.name,
            }
        )
    rows.sort(key=lambda r: abs(r["spam_score"] - threshold), reverse=True)
    return pd.DataFrame(
        rows[:limit], columns=["truth", "spam_score", "group", "subject", "file"]
    )


def hits_frame(hits: list[SearchHit]) -> pd.DataFrame:
    """Search hits as a table."""
    import pandas as pd

    columns = ["score", "date", "label", "spam_score", "from", "subject", "queue_id"]
    return pd.DataFrame([h.to_json() for h in hits], columns=columns)


def _json_or_empty(registry: Any, version: str, name: str) -> dict[str, Any]:
    try:
        return registry.read_json(version, name)
    except (OSError, ValueError):
        return {}
