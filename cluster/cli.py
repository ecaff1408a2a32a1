"""The `mailray` command line.

Each part of the platform adds its own commands from a ``commands`` module
of its package, so this file only assembles them.
"""

from __future__ import annotations

import importlib
import logging
import os

import typer

app = typer.Typer(
    name="mailray",
    help="An email platform on Ray: SMTP in, spam verdicts, Parquet, IMAP.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Packages whose ``commands.register(app)`` adds subcommands.
_COMMAND_MODULES = (
    "cluster.commands",
    "ingest.commands",
    "storage.commands",
    "storage.search_commands",
    "training.commands",
    "serve.commands",
    "imap.commands",
)


def _register_all() -> None:
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(app)


def main() -> None:
    logging.basicConfig(
        level=os.environ.get("MAILRAY_LOG_LEVEL", "WARNING").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    _register_all()
    app()


if __name__ == "__main__":
    main()
