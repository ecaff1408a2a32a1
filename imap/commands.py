"""``mailray prefs ...``, ``mailray feedback`` and ``mailray imap-serve``.

Both work on the metadata store (``imap.metadata_path``) directly, with or
without a running server; the configured users are seeded first so a
fresh installation can be prepared before ``mailray up``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

prefs_app = typer.Typer(
    help="Per-user spam threshold and allow/block lists.", no_args_is_help=True
)

ConfigOption = Annotated[Path | None, typer.Option("--config", help="TOML file")]
UserOption = Annotated[str, typer.Option("--user", help="the IMAP login")]


def register(app: typer.Typer) -> None:
    app.add_typer(prefs_app, name="prefs")
    app.command("feedback")(feedback_command)
    app.command("imap-serve")(serve_command)


def serve_command(config_path: ConfigOption = None) -> None:
    """Run the IMAP server alone in the foreground, without Ray (Ctrl-C stops)."""
    import asyncio
    import contextlib

    from cluster.config import load_config
    from imap.service import ImapServer
    from storage.root import StorageRoot

    config = load_config(config_path)

    async def serve() -> None:
        server = ImapServer(config, StorageRoot.from_config(config.storage))
        port = await server.start()
        typer.echo(f"IMAP on {config.imap.host}:{port}")
        try:
            await asyncio.Event().wait()
        finally:
            await server.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


def _open(config_path: Path | None):
    from cluster.config import load_config
    from imap.sqlite_store import SqliteStore
    from imap.users import seed_users

    config = load_config(config_path)
    store = SqliteStore(config.imap.metadata_path)
    seed_users(store, config.users)
    return config, store


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(code=1)


@prefs_app.command("show")
def show_command(user: UserOption, config_path: ConfigOption = None) -> None:
    """Print a user's threshold and lists."""
    from imap.errors import ImapError
    from imap.prefs import get_prefs

    _, store = _open(config_path)
    try:
        prefs = get_prefs(store, user)
    except ImapError as exc:
        raise _fail(exc) from exc
    threshold = "model label" if prefs.spam_threshold is None else prefs.spam_threshold
    typer.echo(f"spam_threshold: {threshold}")
    for name in ("allow_senders", "allow_domains", "block_senders", "block_domains"):
        typer.echo(f"{name}: {', '.join(sorted(getattr(prefs, name))) or '-'}")


@prefs_app.command("threshold")
def threshold_command(
    user: UserOption,
    value: Annotated[str, typer.Argument(help="0..1, or 'none' for the model's label")],
    config_path: ConfigOption = None,
) -> None:
    """Set the score from which a user's mail goes to Junk."""
    from imap.errors import ImapError
    from imap.prefs import set_spam_threshold

    _, store = _open(config_path)
    try:
        threshold = None if value.lower() == "none" else float(value)
        set_spam_threshold(store, user, threshold)
    except (ImapError, ValueError) as exc:
        raise _fail(exc) from exc
    typer.echo(f"{user}: spam_threshold {value}")


def _list_command(which: str, remove: bool):
    def command(
        user: UserOption,
        entry: Annotated[str, typer.Argument(help="an address or a domain")],
        config_path: ConfigOption = None,
    ) -> None:
        from imap.errors import ImapError
        from imap.prefs import add_to_list, remove_from_list

        _, store = _open(config_path)
        try:
            if remove:
                found = remove_from_list(store, user, which, entry)  # type: ignore[arg-type]
                typer.echo(
                    f"{user}: {entry} {'removed from' if found else 'not on'} "
                    f"the {which} list"
                )
            else:
                added = add_to_list(store, user, which, entry)  # type: ignore[arg-type]
                typer.echo(f"{user}: {added} added to the {which} list")
        except (ImapError, ValueError) as exc:
            raise _fail(exc) from exc

    verb = "Remove a sender or domain from" if remove else "Add a sender or domain to"
    command.__doc__ = f"{verb} the {which} list."
    return command


prefs_app.command("allow")(_list_command("allow", remove=False))
prefs_app.command("block")(_list_command("block", remove=False))
prefs_app.command("unallow")(_list_command("allow", remove=True))
prefs_app.command("unblock")(_list_command("block", remove=True))


def feedback_command(
    user: UserOption,
    message_id: Annotated[
        str, typer.Option("--message-id", help="queue id or Message-ID header")
    ],
    label: Annotated[str, typer.Option("--label", help="spam or ham")],
    config_path: ConfigOption = None,
) -> None:
    """Record a spam/ham label for one of a user's messages (tables/feedback)."""
    from imap.errors import ImapError
    from imap.feedback_table import FeedbackTable
    from imap.prefs import record_feedback
    from storage.root import StorageRoot

    config, store = _open(config_path)
    try:
        event = record_feedback(store, user, message_id, label, source="cli")
    except (ImapError, ValueError) as exc:
        raise _fail(exc) from exc
    written = FeedbackTable(StorageRoot.from_config(config.storage)).drain(store)
    typer.echo(
        f"{event.queue_id}: {label} recorded for {user} "
        f"(model {event.model_version}: {event.model_label} {event.model_score}); "
        f"{written} event(s) written"
    )
