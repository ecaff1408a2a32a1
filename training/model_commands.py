"""``mailray model status|history|promote|rollback``.

They work on the storage root directly (the rollout state file, the
registry and ``tables/model_events``), so they need no running cluster;
the controller and the classifier replicas pick a change up on their next
round.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

model_app = typer.Typer(help="The model rollout: status, history, promote, rollback.")

ConfigOption = Annotated[Path | None, typer.Option("--config")]


def _loop(config_path: Path | None):
    from cluster.config import load_config
    from training.controller import LearningLoop

    return LearningLoop(load_config(config_path))


@model_app.command("status")
def status_command(config_path: ConfigOption = None) -> None:
    """The serving version and the canary, as JSON."""
    from training.events import version_status

    loop = _loop(config_path)
    out = loop.status()
    out.pop("last_action", None)
    if out.get("candidate_version"):
        out["candidate_status"] = version_status(loop.root, out["candidate_version"])
    typer.echo(json.dumps(out, indent=2))


@model_app.command("history")
def history_command(
    limit: Annotated[int, typer.Option(help="newest events shown")] = 20,
    config_path: ConfigOption = None,
) -> None:
    """Rollout events, newest first, one JSON object per line."""
    from training.events import history

    for event in history(_loop(config_path).root, limit):
        typer.echo(json.dumps(event))


@model_app.command("promote")
def promote_command(config_path: ConfigOption = None) -> None:
    """Promote the canaried candidate to serve all mail now."""
    # TODO(#5): a promote racing the controller's own round is settled by
    # whichever state write lands last; route it through the actor.
    try:
        typer.echo(_loop(config_path).promote())
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc


@model_app.command("rollback")
def rollback_command(config_path: ConfigOption = None) -> None:
    """Drop the canaried candidate; stable serves all mail again."""
    try:
        typer.echo(_loop(config_path).rollback())
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
