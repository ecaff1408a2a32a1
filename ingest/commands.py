"""``mailray send``: push files, folders, mbox and Maildir into SMTP."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    app.command("send")(send)


def send(
    paths: Annotated[list[Path], typer.Argument(help="Files, folders, mbox, Maildir.")],
    to: Annotated[
        list[str] | None, typer.Option("--to", help="Recipient (repeatable).")
    ] = None,
    server: Annotated[
        str | None,
        typer.Option("--server", help="host:port; default from the configuration."),
    ] = None,
    mail_from: Annotated[
        str, typer.Option("--from", help="Envelope sender.")
    ] = "sender@mailray.localhost",
    connections: Annotated[
        int, typer.Option("--connections", "-c", min=1, help="Concurrent sessions.")
    ] = 8,
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML configuration file.")
    ] = None,
    retry_for_s: Annotated[
        float,
        typer.Option("--retry-for", help="Seconds to keep retrying a 4xx reply."),
    ] = 600.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Send messages over SMTP with a progress bar and a summary."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from cluster.config import ConfigError, load_config
    from ingest.sender import collect, send_all

    try:
        settings = load_config(config)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    host, port = settings.smtp.host, settings.smtp.port
    if server:
        host, _, port_text = server.rpartition(":")
        if not host or not port_text.isdigit():
            typer.echo(f"--server must be host:port, got {server!r}", err=True)
            raise typer.Exit(2)
        port = int(port_text)
    recipients = to or [settings.users[0].addresses[0]]

    try:
        messages = list(collect(paths))
    except FileNotFoundError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc

    console = Console(stderr=True, quiet=quiet)
    with Progress(
        TextColumn("sending"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[refused]} refused"),
        console=console,
    ) as progress:
        task = progress.add_task("send", total=len(messages), refused=0)
        refused = 0

        def advance(_message: object, reply: str) -> None:
            nonlocal refused
            refused += not reply.startswith("250")
            progress.update(task, advance=1, refused=refused)

        summary = send_all(
            messages,
            host=host,
            port=port,
            mail_from=mail_from,
            rcpt_tos=recipients,
            connections=connections,
            retry_for_s=retry_for_s,
            on_done=advance,
        )

    typer.echo(f"sent: {summary.sent}  refused: {len(summary.refused)}")
    for reason, count in summary.reasons().most_common():
        typer.echo(f"  {count} x {reason}")
    if summary.refused:
        raise typer.Exit(1)
