"""Canary evidence: feedback during a step, joined with both models' verdicts.

Only labels given since the step began count, and only on messages the
classifier shadow-scored with this candidate: both models answered on the
same mail, so their agreement with the user compares like with like.
"""

from __future__ import annotations

from datetime import datetime

from serve.rollout import CanaryEvidence
from storage.root import StorageRoot


def _has_files(root: StorageRoot, table: str) -> bool:
    folder = root.path("tables", table)
    return root.fs.exists(folder) and bool(root.fs.glob(folder + "/**/*.parquet"))


def canary_evidence(
    root: StorageRoot, candidate_version: str, since: datetime
) -> CanaryEvidence:
    """Labels since ``since`` on mail scored by ``candidate_version``."""
    from storage.sql import connect

    root.fs.invalidate_cache()
    if not (_has_files(root, "feedback") and _has_files(root, "shadow_verdicts")):
        return CanaryEvidence(0, 0, 0)
    con = connect(root)
    n, candidate_agree, stable_agree = con.execute(
        """
        WITH labels AS (
            SELECT queue_id, arg_max(label, created_at) AS label
            FROM feedback
            WHERE created_at >= ?::TIMESTAMPTZ AND label IN ('spam', 'ham')
            GROUP BY queue_id
        ), shadows AS (
            SELECT queue_id,
                   arg_max(stable_label, scored_at) AS stable_label,
                   arg_max(candidate_label, scored_at) AS candidate_label
            FROM shadow_verdicts
            WHERE candidate_version = ?
            GROUP BY queue_id
        )
        SELECT count(*),
               count(*) FILTER (WHERE candidate_label = label),
               count(*) FILTER (WHERE stable_label = label)
        FROM labels JOIN shadows USING (queue_id)
        """,
        [since.isoformat(), candidate_version],
    ).fetchone()
    return CanaryEvidence(int(n), int(candidate_agree), int(stable_agree))
