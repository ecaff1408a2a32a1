"""What ``mailray status`` reports about a running platform."""

from __future__ import annotations

import logging
import os
from typing import Any

import ray

from cluster.config import Config
from cluster.state import PlatformState
from ingest import queues

log = logging.getLogger("mailray.cluster")

RECENT_DEAD_LETTERS = 5


def collect_status(state: PlatformState, config: Config) -> dict[str, Any]:
    """Queue depths, per-stage counts, stored and dead-lettered totals."""
    if not ray.is_initialized():
        # A local cluster started by `mailray up` uses Ray's token auth; the
        # token is in ~/.ray/auth_token, but a joining driver only sends it
        # when the mode is set.
        os.environ.setdefault("RAY_AUTH_MODE", "token")
        ray.init(
            address=state.ray_address,
            namespace=state.namespace,
            log_to_driver=False,
            configure_logging=False,
        )
    depths = {}
    for name in queues.QUEUE_NAMES:
        actor = ray.get_actor(queues.actor_name(name), namespace=state.namespace)
        depths[name] = ray.get(actor.qsize.remote(), timeout=10)

    stages: dict[str, Any] = {}
    for name in sorted(ray.util.list_named_actors()):
        if not name.startswith("mailray.") or name.startswith("mailray.queue."):
            continue
        actor = ray.get_actor(name, namespace=state.namespace)
        stages[name.removeprefix("mailray.")] = ray.get(
            actor.stats.remote(), timeout=10
        )

    versions: dict[str, int] = {}
    for stats in stages.values():
        for version, count in stats.get("model_versions", {}).items():
            versions[version] = versions.get(version, 0) + count
    return {
        "endpoints": {
            "smtp": state.smtp,
            "http": state.http,
            "imap": state.imap,
            "storage": state.storage_root,
        },
        "queues": depths,
        "stages": stages,
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
