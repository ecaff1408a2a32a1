"""``mailray train`` and ``mailray eval``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    from training.model_commands import model_app

    app.command("train")(train_command)
    app.command("eval")(eval_command)
    app.add_typer(model_app, name="model")


def _registry(config):
    from storage.registry import ModelRegistry
    from storage.root import StorageRoot

    return ModelRegistry(StorageRoot.from_config(config.storage))


def train_command(
    corpus: Annotated[Path, typer.Option(help="ham/ + spam/ or SpamAssassin layout")],
    exclude: Annotated[
        list[str], typer.Option(help="corpus folders to leave out (repeatable)")
    ] = [],  # noqa: B006 - typer reads the default
    epochs: Annotated[
        int | None, typer.Option(help="overrides training.epochs")
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option(help="overrides training.max_tokens")
    ] = None,
    serve: Annotated[
        bool, typer.Option(help="make the new version the serving one")
    ] = False,
    config_path: Annotated[Path | None, typer.Option("--config")] = None,
) -> None:
    """Fine-tune a spam model on CORPUS under Ray Train and publish it."""
    from rich.console import Console

    from cluster.config import load_config
    from training.train import train

    overrides: dict = {}
    if epochs is not None:
        overrides["epochs"] = epochs
    if max_tokens is not None:
        overrides["max_tokens"] = max_tokens
    config = load_config(config_path)
    if overrides:
        training = config.training.model_copy(update=overrides)
        config = config.model_copy(update={"training": training})
    result = train(
        config, corpus, _registry(config), exclude_groups=exclude, serve=serve
    )
    console = Console()
    m = result.metrics
    console.print(f"version [bold]{result.version}[/bold]")
    if "f1" in m:
        console.print(
            f"test n={m['n']} precision={m['precision']:.4f} recall={m['recall']:.4f} "
            f"f1={m['f1']:.4f} fpr={m['fpr']:.4f} threshold={m['threshold']:.4f}"
        )


def eval_command(
    corpus: Annotated[Path, typer.Option(help="ham/ + spam/ or SpamAssassin layout")],
    model: Annotated[
        str | None, typer.Option(help="registry version (default: serving)")
    ] = None,
    split: Annotated[str, typer.Option(help="test, validation or all")] = "test",
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object")] = False,
    baseline: Annotated[
        str | None, typer.Option(help="'bogofilter' scores it side by side")
    ] = None,
    dtype: Annotated[str, typer.Option(help="auto, fp32, bf16 or int8")] = "auto",
    group: Annotated[
        list[str], typer.Option(help="only these corpus folders (repeatable)")
    ] = [],  # noqa: B006 - typer reads the default
    plot: Annotated[
        Path | None, typer.Option(help="ROC + precision-recall PNG path")
    ] = Path("eval.png"),
    config_path: Annotated[Path | None, typer.Option("--config")] = None,
) -> None:
    """Score CORPUS with a model version and report the metrics."""
    from cluster.config import load_config
    from training.evaluate import evaluate, render

    config = load_config(config_path)
    outcome = evaluate(
        _registry(config),
        corpus,
        version=model,
        split=split,
        baseline=baseline,
        dtype=dtype,
        plot_path=plot,
        groups=group,
    )
    if as_json:
        typer.echo(json.dumps(outcome.to_json()))
    else:
        render(outcome)
