"""``mailray up`` and ``mailray status``."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Annotated

import typer

SNAPSHOT_INTERVAL_S = 2.0


def register(app: typer.Typer) -> None:
    app.command("up")(up)
    app.command("status")(status)


ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="TOML configuration file.")
]


def _load(config: Path | None, **overrides):
    from cluster.config import ConfigError, load_config

    try:
        return load_config(config, **overrides)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc


def up(
    config: ConfigOption = None,
    address: Annotated[
        str | None,
        typer.Option("--address", help="Join an existing Ray cluster ('auto')."),
    ] = None,
    ray_temp_dir: Annotated[
        str | None, typer.Option("--ray-temp-dir", help="Local Ray's temp folder.")
    ] = None,
    num_cpus: Annotated[
        float | None, typer.Option("--num-cpus", help="Logical CPUs of local Ray.")
    ] = None,
) -> None:
    """Run the whole platform until SIGINT or SIGTERM."""
    from cluster.platform import Platform
    from cluster.status import snapshot_path, write_snapshot

    overrides = {"ray_address": address} if address else {}
    # Validated whole before anything starts or binds a port.
    settings = _load(config, **overrides)
    stopping = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        stopping.set()

    platform = Platform(settings, ray_temp_dir=ray_temp_dir, num_cpus=num_cpus)
    try:
        endpoints = platform.start()
        # After ray.init, which installs its own handlers: ours win, so a
        # SIGTERM takes the clean path below instead of Ray's.
        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        typer.echo(f"smtp     {endpoints.smtp}")
        typer.echo(f"http     {endpoints.http}")
        typer.echo(f"imap     {endpoints.imap or '(not started)'}")
        typer.echo(f"storage  {endpoints.storage_root}")
        typer.echo(f"ray      {endpoints.ray_address}")
        typer.echo("mailray is up; Ctrl-C stops it", err=True)
        snapshot = snapshot_path(settings)
        next_snapshot_s = 0.0
        while not stopping.is_set():
            platform.supervise(timeout_s=1.0)
            if time.monotonic() >= next_snapshot_s:
                write_snapshot(snapshot, platform.runtime_status())
                next_snapshot_s = time.monotonic() + SNAPSHOT_INTERVAL_S
    finally:
        typer.echo("stopping", err=True)
        platform.stop()
        snapshot_path(settings).unlink(missing_ok=True)


def status(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable.")] = False,
) -> None:
    """Queue depths, per-stage counts, dead letters, serving model version."""
    import json

    from cluster.state import PlatformState
    from cluster.status import collect_status

    settings = _load(config)
    try:
        state = PlatformState.read(settings.pipeline.state_file)
    except FileNotFoundError as exc:
        typer.echo("mailray is not running (no state file)", err=True)
        raise typer.Exit(1) from exc
    report = collect_status(state, settings)
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=str))
        return
    _render(report)


def _render(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for name, value in report["endpoints"].items():
        console.print(f"{name:8} {value or '(not started)'}")
    console.print(f"serving model  {report['serving_model_version']}")
    console.print(
        f"stored {report['stored_messages']}  dead letters {report['dead_letters']}"
    )
    queues = Table("queue", "depth")
    for name, depth in report["queues"].items():
        queues.add_row(name, str(depth))
    console.print(queues)
    stages = Table("actor", "counts")
    for name, stats in report["stages"].items():
        counts = ", ".join(
            f"{k}={v}" for k, v in stats.items() if k not in ("stage", "actor")
        )
        stages.add_row(name, counts)
    console.print(stages)
    for letter in report["recent_dead_letters"]:
        console.print(
            f"dead letter {letter['queue_id']} ({letter['stage']}): {letter['error']}"
        )
