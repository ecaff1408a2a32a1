"""``mailray classify FILE...``: score messages in-process with the serving model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    app.command("classify")(classify_command)


def classify_command(
    files: Annotated[list[Path], typer.Argument(help="raw RFC 822 message files")],
    model: Annotated[
        str | None, typer.Option(help="registry version (default: serving)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON line each")] = False,
    config_path: Annotated[Path | None, typer.Option("--config")] = None,
) -> None:
    """Print the spam verdict of each FILE (no cluster needed)."""
    from cluster.config import load_config
    from serve.classifier import load_serving_model, verdict_for
    from serve.text import message_text

    config = load_config(config_path)
    if model is not None:
        classifier = config.classifier.model_copy(update={"model_version": model})
        config = config.model_copy(update={"classifier": classifier})
    spam_model = load_serving_model(config)
    texts = [message_text(path.read_bytes()) for path in files]
    for path, score in zip(files, spam_model.predict(texts), strict=True):
        verdict = verdict_for(score, spam_model.version, spam_model.threshold)
        if as_json:
            typer.echo(json.dumps({"file": str(path), **verdict.to_json()}))
        else:
            typer.echo(f"{path}\t{verdict.label}\t{verdict.spam_score:.4f}")
