"""``mailray query``: SQL over the stored tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    app.command("query")(query)


def query(
    sql: Annotated[str, typer.Argument(help="A DuckDB SQL statement.")],
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML configuration file.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
) -> None:
    """Run SQL over messages, attachments, dead_letters and every other table."""
    import duckdb
    from rich.console import Console
    from rich.table import Table

    from cluster.config import ConfigError, load_config
    from storage.sql import connect

    try:
        settings = load_config(config)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    con = connect(settings)
    try:
        result = con.sql(sql)
    except duckdb.Error as exc:
        typer.echo(f"query failed: {exc}", err=True)
        raise typer.Exit(1) from exc
    if result is None:
        return
    columns = result.columns
    rows = result.fetchall()
    if fmt == "csv":
        import csv
        import sys

        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
        return
    if fmt == "json":
        import json

        typer.echo(
            json.dumps([dict(zip(columns, r, strict=True)) for r in rows], default=str)
        )
        return
    table = Table(*columns)
    for row in rows:
        table.add_row(*("NULL" if v is None else str(v) for v in row))
    Console().print(table)
