"""Shadow verdicts: both models' answers for every message seen in a canary.

While a candidate is canaried, each classifier replica scores every message
with the stable and the candidate model and keeps both verdicts here. A
daemon thread writes them in batches to
``tables/shadow_verdicts/date=YYYY-MM-DD/*.parquet``; the controller joins
them with feedback to compare the two models on the same mail.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa

from storage.root import StorageRoot
from storage.tables import Tables

log = logging.getLogger("mailray.serve")

TABLE = "shadow_verdicts"

SCHEMA = pa.schema(
    [
        ("queue_id", pa.string()),
        ("scored_at", pa.timestamp("us", tz="UTC")),
        ("stable_version", pa.string()),
        ("stable_score", pa.float64()),
        ("stable_label", pa.string()),
        ("candidate_version", pa.string()),
        ("candidate_score", pa.float64()),
        ("candidate_label", pa.string()),
        ("fraction", pa.float64()),
        ("routed_to", pa.string()),
    ]
)


@dataclass(frozen=True, slots=True)
class ShadowVerdict:
    queue_id: str
    scored_at: datetime
    stable_version: str
    stable_score: float
    stable_label: str
    candidate_version: str
    candidate_score: float
    candidate_label: str
    fraction: float
    routed_to: str
    """``"candidate"`` or ``"stable"``: whose verdict counted."""


class ShadowLog:
    """Buffers shadow verdicts; a daemon thread writes them every interval."""

    def __init__(self, root: StorageRoot, flush_interval_s: float = 2.0) -> None:
        self.tables = Tables(root)
        self.flush_interval_s = flush_interval_s
        self._rows: list[ShadowVerdict] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="mailray-shadow", daemon=True
        )
        self._thread.start()

    def add(self, verdicts: list[ShadowVerdict]) -> None:
        with self._lock:
            self._rows.extend(verdicts)

    def flush(self) -> int:
        """Write what is buffered; on failure the rows wait for the next try."""
        with self._lock:
            rows, self._rows = self._rows, []
        if not rows:
            return 0
        by_day: dict[str, list[ShadowVerdict]] = {}
        for row in rows:
            by_day.setdefault(f"date={row.scored_at.date().isoformat()}", []).append(
                row
            )
        try:
            for partition, batch in by_day.items():
                table = pa.Table.from_pylist(
                    [{n: getattr(r, n) for n in SCHEMA.names} for r in batch],
                    schema=SCHEMA,
                )
                self.tables.write(TABLE, partition, table)
        except Exception:
            # TODO(#5): a replica that dies with rows buffered loses them; the
            # canary then sees less evidence and holds longer, never more.
            log.exception("writing %d shadow verdicts failed; will retry", len(rows))
            with self._lock:
                self._rows[:0] = rows
            return 0
        return len(rows)

    def _run(self) -> None:
        while not self._stop.wait(self.flush_interval_s):
            self.flush()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.flush()


def now_utc() -> datetime:
    return datetime.now(UTC)
