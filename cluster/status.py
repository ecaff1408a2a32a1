"""What ``mailray status`` reports about a running platform.

The ``mailray up`` process, which holds the Ray connection, writes a
snapshot of queue depths and per-actor counters next to its state file
every couple of seconds; ``mailray status`` reads it and adds what storage
knows (stored and dead-lettered messages, the serving model version). So
status needs no Ray connection of its own.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from cluster.config import Config
from cluster.state import PlatformState

log = logging.getLogger("mailray.cluster")

RECENT_DEAD_LETTERS = 5


def snapshot_path(config: Config) -> Path:
    return Path(config.pipeline.state_file).with_suffix(".status.json")


def write_snapshot(path: Path, runtime: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"taken_at": time.time(), **runtime}, default=str))
    os.replace(tmp, path)


def collect_status(state: PlatformState, config: Config) -> dict[str, Any]:
    """Queue depths, per-stage counts, stored and dead-lettered totals."""
    try:
        runtime = json.loads(snapshot_path(config).read_text())
    except FileNotFoundError:
        runtime = {"queues": {}, "stages": {}}
    versions: dict[str, int] = {}
    for stats in runtime.get("stages", {}).values():
        for version, count in stats.get("model_versions", {}).items():
            versions[version] = versions.get(version, 0) + count
    return {
        "endpoints": {
            "smtp": state.smtp,
            "http": state.http,
            "imap": state.imap,
            "storage": state.storage_root,
        },
        "snapshot_age_s": round(time.time() - runtime.get("taken_at", 0), 1),
        "queues": runtime.get("queues", {}),
        "stages": runtime.get("stages", {}),
        "serving_model_version": _serving_version(config),
        "model_versions_seen": versions,
        **_table_counts(config),
    }


def _serving_version(config: Config) -> str | None:
    from storage.registry import ModelRegistry, RegistryError
    from storage.root import StorageRoot

    try:
        return ModelRegistry(StorageRoot.from_config(config.storage)).serving_version()
    except RegistryError as exc:
        log.warning("no serving model version: %s", exc)
        return None


def _table_counts(config: Config) -> dict[str, Any]:
    from storage.sql import connect

    con = connect(config)
    stored = con.sql("SELECT count(*) FROM messages").fetchone()[0]
    dead = con.sql("SELECT count(*) FROM dead_letters").fetchone()[0]
    recent = con.sql(
        "SELECT queue_id, stage, error, failed_at FROM dead_letters "
        f"ORDER BY failed_at DESC LIMIT {RECENT_DEAD_LETTERS}"
    ).fetchall()
    return {
        "stored_messages": stored,
        "dead_letters": dead,
        "recent_dead_letters": [
            {"queue_id": q, "stage": s, "error": e, "failed_at": str(t)}
            for q, s, e, t in recent
        ],
    }
