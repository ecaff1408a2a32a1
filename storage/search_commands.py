"""``mailray search``: semantic, full-text and hybrid search over stored mail."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    app.command("search")(search_command)


def recipients_for(user: str, users: tuple) -> tuple[str, ...]:
    """A configured user's addresses, or ``user`` itself as an address."""
    for configured in users:
        if configured.name.lower() == user.lower():
            return tuple(configured.addresses)
    return (user,)


def search_command(
    text: Annotated[
        str | None, typer.Argument(help="What to look for (omit with --like).")
    ] = None,
    user: Annotated[
        str | None,
        typer.Option("--user", help="A configured user name or a recipient address."),
    ] = None,
    label: Annotated[str | None, typer.Option(help="spam or ham.")] = None,
    since: Annotated[
        datetime | None, typer.Option(help="Received on or after (UTC).")
    ] = None,
    limit: Annotated[int, typer.Option(help="How many results.")] = 10,
    mode: Annotated[str, typer.Option(help="vector, text or hybrid.")] = "hybrid",
    like: Annotated[
        str | None, typer.Option("--like", help="More like this queue id.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines out.")] = False,
    reindex: Annotated[
        bool,
        typer.Option(help="First index stored messages the vector table lacks."),
    ] = False,
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML configuration file.")
    ] = None,
) -> None:
    """Find stored messages by meaning, by words, or both."""
    from cluster.config import ConfigError, load_config
    from serve.embedding import shared_embedder
    from storage.indexing import catch_up
    from storage.root import StorageRoot
    from storage.search import more_like_this, search

    if (text is None) == (like is None):
        typer.echo("give either a search text or --like QUEUE_ID", err=True)
        raise typer.Exit(2)
    try:
        settings = load_config(config)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    root = StorageRoot.from_config(settings.storage)
    recipients = recipients_for(user, settings.users) if user else None

    if reindex:
        added = catch_up(root, shared_embedder())
        typer.echo(f"indexed {added} messages", err=True)
    try:
        if like is not None:
            hits = more_like_this(
                root, like, user=recipients, label=label, since=since, limit=limit
            )
        else:
            hits = search(
                root,
                text or "",
                user=recipients,
                label=label,
                since=since,
                limit=limit,
                mode=mode,  # type: ignore[arg-type]
            )
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    except KeyError as exc:
        typer.echo(f"no indexed message with queue id {like}", err=True)
        raise typer.Exit(1) from exc

    if as_json:
        for hit in hits:
            typer.echo(json.dumps(hit.to_json()))
        return
    _print_table(hits)


def _print_table(hits: list) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("score", "date", "label", "from", "subject", "queue_id")
    for hit in hits:
        table.add_row(
            f"{hit.score:.3f}",
            f"{hit.received_at:%Y-%m-%d %H:%M}",
            hit.label,
            hit.from_,
            hit.subject,
            hit.queue_id,
        )
    Console(width=160).print(table)
