"""Fine-tune the serving version on feedback plus replay, under Ray Train.

The run starts from the parent version's LoRA adapters and head (a warm
start, not fresh adapters) and keeps the parent's network spec; the caller
picks the candidate's own threshold where a validation set exists. It uses
the same per-worker loop as ``mailray train``, with the learning section's
smaller budget: fractional CPUs and few torch threads, so ingest and
serving keep running beside it.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import torch

from cluster.config import Config
from serve.network import SPEC_FILE, WEIGHTS_FILE, NetworkSpec, base_model_path
from storage.registry import ModelRegistry
from training.errors import TrainingError
from training.labelled import LabelledText

log = logging.getLogger("mailray.training")


def load_trainable(net: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Put a version's adapters and head into a freshly built network."""
    from peft import set_peft_model_state_dict

    adapters = {
        k.removeprefix("encoder."): v
        for k, v in state.items()
        if k.startswith("encoder.")
    }
    head = {
        k.removeprefix("head."): v for k, v in state.items() if k.startswith("head.")
    }
    if not adapters or not head:
        raise ValueError("warm-start weights lack adapters or head")
    set_peft_model_state_dict(net.encoder, adapters)
    net.head.load_state_dict(head, strict=True)


def training_rows(
    feedback: Sequence[LabelledText],
    replay: Sequence[LabelledText],
    feedback_weight: int,
    replay_size: int,
    seed: int,
    teacher: Callable[[list[str]], Sequence[float]] | None = None,
) -> list[LabelledText]:
    """Feedback repeated ``feedback_weight`` times plus a replay sample.

    With a ``teacher`` (the parent model's scoring), each replayed example
    trains towards the parent's score instead of its label: the candidate
    learns the new feedback while keeping the parent's behaviour, and its
    calibration, on the base corpus ("learning without forgetting").
    """
    rng = random.Random(seed)
    sample = list(replay)
    if len(sample) > replay_size:
        sample = rng.sample(sample, replay_size)
    if teacher is not None and sample:
        scores = teacher([row.text for row in sample])
        sample = [
            replace(row, target=float(score))
            for row, score in zip(sample, scores, strict=True)
        ]
    rows = [row for row in feedback for _ in range(feedback_weight)] + sample
    rng.shuffle(rows)
    return rows


def finetune(
    config: Config,
    registry: ModelRegistry,
    parent_version: str,
    rows: Sequence[LabelledText],
    workdir: str,
) -> Path:
    """Train a candidate from ``parent_version``; returns its local folder."""
    from transformers import AutoTokenizer

    from training.dataset import encode
    from training.train import _ensure_ray, _fit

    if len({r.label for r in rows}) < 2:
        raise TrainingError("fine-tuning needs both ham and spam examples")
    learning = config.learning
    parent = registry.local_path(parent_version)
    spec_json = json.loads((parent / SPEC_FILE).read_text())
    spec = NetworkSpec.from_json(spec_json)
    tokenizer = AutoTokenizer.from_pretrained(
        base_model_path(spec.base_model), local_files_only=True
    )
    encoded = encode(
        tokenizer, [r.text for r in rows], [r.label for r in rows], spec.max_tokens
    )
    targets = [float(r.label) if r.target is None else r.target for r in rows]
    training = config.training.model_copy(
        update={"num_workers": 1, "cpus_per_worker": learning.cpus_per_worker}
    )
    run_config = config.model_copy(update={"training": training})
    loop_config = {
        "spec": spec.to_json(),
        "input_ids": encoded.input_ids,
        "labels": encoded.labels,
        "targets": targets,
        "epochs": learning.epochs,
        "batch_size": config.training.batch_size,
        "learning_rate": learning.learning_rate,
        "seed": config.training.seed,
        "torch_threads": learning.torch_threads,
        "bf16": True,
        "init_weights": (parent / WEIGHTS_FILE).read_bytes(),
    }
    _ensure_ray(run_config)
    log.info(
        "fine-tuning %s on %d examples for %d epochs",
        parent_version,
        len(rows),
        learning.epochs,
    )
    folder = _fit(run_config, loop_config, workdir, show_progress=False)
    # The loop saves the spec it was given: the parent's, threshold included.
    (folder / SPEC_FILE).write_text(json.dumps(spec_json, indent=2) + "\n")
    return folder
