"""Every rollout transition, recorded twice: a table row and the version's status.

- ``tables/model_events/date=YYYY-MM-DD/*.parquet``: one row per transition
  (trained, rejected, canary, advanced, promoted, rolled_back, abandoned),
  with the metrics that justified it, queryable as ``model_events``.
- ``models/<version>/status.json``: the version's latest status and reason,
  so a rejected candidate stays in the registry saying why.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa

from storage.files import write_atomic
from storage.root import StorageRoot
from storage.tables import Tables

log = logging.getLogger("mailray.training")

TABLE = "model_events"
STATUS_FILE = "status.json"

SCHEMA = pa.schema(
    [
        # Not "at": AT is a keyword in DuckDB's SQL, and users write queries.
        ("occurred_at", pa.timestamp("us", tz="UTC")),
        ("event", pa.string()),
        ("version", pa.string()),
        ("parent_version", pa.string()),
        ("fraction", pa.float64()),
        ("reason", pa.string()),
        # JSON text: the figures behind the decision.
        ("metrics", pa.string()),
    ]
)


@dataclass(frozen=True, slots=True)
class ModelEvent:
    at: datetime
    event: str
    version: str
    parent_version: str | None
    fraction: float
    reason: str
    metrics: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        return {
            "occurred_at": self.at,
            "event": self.event,
            "version": self.version,
            "parent_version": self.parent_version,
            "fraction": self.fraction,
            "reason": self.reason,
            "metrics": json.dumps(self.metrics, sort_keys=True, default=str),
        }


def record(root: StorageRoot, event: ModelEvent) -> None:
    """Write the event's row and the version's status file."""
    table = pa.Table.from_pylist([event.row()], schema=SCHEMA)
    Tables(root).write(TABLE, f"date={event.at.date().isoformat()}", table)
    status = {
        "status": event.event,
        "reason": event.reason,
        "at": event.at.isoformat(),
        "fraction": event.fraction,
        "metrics": event.metrics,
    }
    payload = json.dumps(status, indent=2, sort_keys=True, default=str) + "\n"
    write_atomic(
        root, root.path("models", event.version, STATUS_FILE), payload.encode()
    )
    log.info(
        "model %s: %s at fraction %.2f (%s)",
        event.version,
        event.event,
        event.fraction,
        event.reason,
    )


def version_status(root: StorageRoot, version: str) -> dict[str, Any] | None:
    """The version's latest recorded status, or None."""
    try:
        with root.fs.open(root.path("models", version, STATUS_FILE), "rb") as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def history(root: StorageRoot, limit: int = 50) -> list[dict[str, Any]]:
    """The latest events, newest first."""
    from storage.sql import connect
    from training.labelled import from_epoch_us

    con = connect(root)
    names = {
        row[0] for row in con.sql("SELECT view_name FROM duckdb_views()").fetchall()
    }
    if TABLE not in names:
        return []
    rows = con.sql(
        "SELECT epoch_us(occurred_at), event, version, parent_version, fraction, "
        f"reason, metrics FROM {TABLE} ORDER BY occurred_at DESC LIMIT {int(limit)}"
    ).fetchall()
    keys = ("at", "event", "version", "parent_version", "fraction", "reason")
    out = []
    for row in rows:
        item = dict(zip(keys, row[:6], strict=True))
        item["at"] = from_epoch_us(item["at"]).isoformat()
        item["metrics"] = json.loads(row[6] or "{}")
        out.append(item)
    return out
