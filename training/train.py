"""Fine-tune a spam model on a labelled corpus under Ray Train; publish it.

The driver does what needs the whole corpus once (parse, model text,
tokenise), Ray Train's workers fine-tune LoRA adapters and a head on the
train split, and the driver then picks the operating threshold on the
validation split, measures the test split, and publishes the version to
the registry with its metrics and lineage.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cluster.config import Config
from serve.model import SpamModel, default_threads
from serve.network import NetworkSpec, base_model_path, set_threshold
from storage.registry import ModelRegistry
from training.corpus import Example, content_hash, select, walk_corpus
from training.dataset import encode, texts_of
from training.errors import TrainingError
from training.labelled import snapshot_corpus
from training.loop import train_loop_per_worker
from training.metrics import pick_threshold, report, threshold_table
from training.split import SPLIT_RULE

log = logging.getLogger("mailray.training")


@dataclass(frozen=True)
class TrainResult:
    version: str
    metrics: dict[str, Any]
    lineage: dict[str, Any]


def _ensure_ray(config: Config) -> None:
    import ray

    if not ray.is_initialized():
        ray.init(
            address=config.ray_address,
            include_dashboard=False,
            configure_logging=False,
            log_to_driver=False,
        )


def _fit(
    config: Config,
    loop_config: dict[str, Any],
    storage_dir: str,
    show_progress: bool,
) -> Path:
    """Run the TorchTrainer; returns a local copy of the final checkpoint."""
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer
    from ray.util.queue import Queue

    training = config.training
    queue = Queue(maxsize=10_000, actor_options={"num_cpus": 0})
    loop_config = {**loop_config, "progress": queue}
    trainer = TorchTrainer(
        train_loop_per_worker,
        train_loop_config=loop_config,
        scaling_config=ScalingConfig(
            num_workers=training.num_workers,
            use_gpu=training.use_gpu,
            resources_per_worker={"CPU": training.cpus_per_worker},
        ),
        run_config=RunConfig(storage_path=storage_dir, name="mailray-train"),
    )

    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = trainer.fit()
        except Exception as exc:  # surfaced to the caller below
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="mailray-train-fit", daemon=True)
    thread.start()
    _follow_progress(queue, thread, show_progress)
    thread.join()

    if "error" in outcome:
        raise TrainingError(f"training failed: {outcome['error']}") from outcome[
            "error"
        ]
    result = outcome["result"]
    if result.checkpoint is None:
        raise TrainingError("training finished without a checkpoint")
    target = Path(storage_dir) / "version"
    result.checkpoint.to_directory(str(target))
    return target


def _follow_progress(queue, thread: threading.Thread, show: bool) -> None:
    from queue import Empty

    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (
        TextColumn("fine-tuning"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} steps loss {task.fields[loss]:.4f}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, disable=not show, transient=False) as bar:
        task = bar.add_task("train", total=None, loss=float("nan"))
        while thread.is_alive() or not queue.empty():
            try:
                step, total, loss = queue.get(timeout=0.5)
            except Empty:
                continue
            bar.update(task, completed=step, total=total, loss=loss)
            if step % 50 == 0:
                log.info("step %d/%d loss %.4f", step, total, loss)


def _score(model: SpamModel, examples: list[Example], texts: dict[Path, str]):
    labels = [e.label for e in examples]
    scores = model.predict([texts[e.path] for e in examples])
    return labels, scores


def train(
    config: Config,
    corpus: str | Path,
    registry: ModelRegistry,
    *,
    exclude_groups: Iterable[str] = (),
    parent_version: str | None = None,
    serve: bool = False,
    show_progress: bool = True,
) -> TrainResult:
    """Fine-tune on ``corpus`` and publish a new registry version."""
    from transformers import AutoTokenizer

    started = time.monotonic()
    training = config.training
    corpus = Path(corpus).resolve()
    exclude_groups = tuple(exclude_groups)
    examples = walk_corpus(corpus, exclude_groups)
    train_set = select(examples, "train")
    validation = select(examples, "validation")
    test = select(examples, "test")
    if len({e.label for e in train_set}) < 2:
        raise TrainingError("the train split needs both ham and spam")
    log.info(
        "corpus %s: %d train, %d validation, %d test",
        corpus,
        len(train_set),
        len(validation),
        len(test),
    )

    texts = dict(zip((e.path for e in examples), texts_of(examples), strict=True))
    # The gate's fixed set and the replay set of continuous training (#5).
    snapshot_corpus(registry.root, examples, texts)
    spec = NetworkSpec(
        max_tokens=training.max_tokens, lora_first_layer=training.lora_first_layer
    )
    tokenizer = AutoTokenizer.from_pretrained(
        base_model_path(spec.base_model), local_files_only=True
    )
    encoded = encode(
        tokenizer,
        [texts[e.path] for e in train_set],
        [e.label for e in train_set],
        training.max_tokens,
    )
    prepared_s = time.monotonic() - started

    _ensure_ray(config)
    loop_config = {
        "spec": spec.to_json(),
        "input_ids": encoded.input_ids,
        "labels": encoded.labels,
        "epochs": training.epochs,
        "batch_size": training.batch_size,
        "learning_rate": training.learning_rate,
        "seed": training.seed,
        "torch_threads": training.torch_threads or default_threads(),
        "bf16": True,
    }
    with tempfile.TemporaryDirectory(prefix="mailray-train-") as storage_dir:
        fit_started = time.monotonic()
        folder = _fit(config, loop_config, storage_dir, show_progress)
        fit_s = time.monotonic() - fit_started

        # In-process scoring: every core (the replicas' thread split is
        # for batches in flight side by side).
        model = SpamModel.load(folder, dtype=config.classifier.dtype)
        threshold = 0.5
        metrics: dict[str, Any] = {}
        if validation:
            labels, scores = _score(model, validation, texts)
            threshold = pick_threshold(
                labels, scores, max_fpr=training.max_validation_fpr
            )
            metrics["validation"] = report(labels, scores, threshold).to_json()
        if test:
            labels, scores = _score(model, test, texts)
            metrics.update(report(labels, scores, threshold).to_json())
            metrics["threshold_table"] = threshold_table(labels, scores)
        metrics.update(
            split="test",
            threshold=threshold,
            dtype=model.dtype,
            prepare_s=round(prepared_s, 1),
            fit_s=round(fit_s, 1),
        )

        set_threshold(folder, threshold)
        lineage = {
            "corpus_path": str(corpus),
            "corpus_content_hash": content_hash(examples),
            "excluded_groups": list(exclude_groups),
            "split_rule": SPLIT_RULE,
            "counts": {
                "train": len(train_set),
                "validation": len(validation),
                "test": len(test),
            },
            "base_model": spec.base_model,
            "parent_version": parent_version,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "training": training.model_dump(),
        }
        version = registry.publish(
            folder, metrics=metrics, lineage=lineage, serve=serve
        )
    log.info("trained version %s in %.0f s", version, time.monotonic() - started)
    return TrainResult(version, metrics, lineage)
