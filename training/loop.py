"""The per-worker training loop that Ray Train runs.

Each worker builds the network (frozen MiniLM, fresh LoRA adapters and
head), trains on its shard of the pre-tokenised training set with bf16
autocast where the CPU supports it, and rank 0 saves the version files as
the run's checkpoint. Progress goes to the driver through a Ray queue.
"""

from __future__ import annotations

import logging
import math
import random
import tempfile
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger("mailray.training")


def _pad(rows: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack variable-length rows (ids or hidden states) with a mask."""
    width = max(len(r) for r in rows)
    shape = (len(rows), width, *rows[0].shape[1:])
    out = torch.zeros(shape, dtype=rows[0].dtype)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
        mask[i, : len(row)] = 1
    return out, mask


def _order(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar length (less padding)."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    # Sort within windows of 50 batches: random, but lengths stay close.
    window = batch_size * 50
    order = [
        i
        for start in range(0, len(order), window)
        for i in sorted(order[start : start + window], key=lambda j: lengths[j])
    ]
    chunks = [order[s : s + batch_size] for s in range(0, len(order), batch_size)]
    rng.shuffle(chunks)
    return chunks


@torch.no_grad()  # not inference_mode: these tensors feed autograd later
def cache_lower_states(
    net, ids: list[list[int]], upto: int, use_bf16: bool, batch_size: int = 64
) -> list[torch.Tensor]:
    """Each example's output of the frozen layers below ``upto``, computed once.

    Stored unpadded in bf16 (or fp32 without native bf16); every epoch then
    runs only the layers that carry adapters.
    """
    net.eval()
    dtype = torch.bfloat16 if use_bf16 else torch.float32
    states: list[torch.Tensor | None] = [None] * len(ids)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        input_ids, mask = _pad([torch.tensor(ids[i]) for i in chunk])
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
            hidden = net.lower_states(input_ids, mask, upto)
        for row, i in enumerate(chunk):
            states[i] = hidden[row, : len(ids[i])].to(dtype).clone()
    net.train()
    return states  # type: ignore[return-value]


def train_loop_per_worker(config: dict[str, Any]) -> None:
    """Ray Train entry point; ``config`` is built by ``training.train``."""
    import ray.train
    from ray.train.torch import prepare_model

    from serve.model import cpu_has_native_bf16
    from serve.network import NetworkSpec, build_network, save_version_files

    torch.set_num_threads(config["torch_threads"])
    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    progress = config.get("progress")

    spec = NetworkSpec.from_json(config["spec"])
    net = build_network(spec, seed=config["seed"])
    if config.get("init_weights"):
        # Continuous training starts from the serving version's adapters.
        from safetensors.torch import load as load_weights

        from training.finetune import load_trainable

        load_trainable(net, load_weights(config["init_weights"]))
    model = prepare_model(net) if world > 1 else net
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config["learning_rate"], weight_decay=0.01)

    ids = config["input_ids"][rank::world]
    # Spam probabilities to train towards: the labels, or where given (replay
    # under distillation) the parent model's scores.
    targets = (config.get("targets") or config["labels"])[rank::world]
    batch_size = config["batch_size"]
    steps_per_epoch = math.ceil(len(ids) / batch_size)
    total = steps_per_epoch * config["epochs"]
    warmup = max(1, total // 10)

    def lr_at(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    use_bf16 = config["bf16"] and cpu_has_native_bf16()
    first = spec.lora_first_layer
    states = cache_lower_states(net, ids, first, use_bf16) if first else None
    rng = random.Random(config["seed"] + rank)
    step = 0
    model.train()
    for epoch in range(config["epochs"]):
        loss_sum, seen = 0.0, 0
        for chunk in _order([len(x) for x in ids], batch_size, rng):
            spam = torch.tensor([float(targets[i]) for i in chunk])
            target = torch.stack([1 - spam, spam], dim=1)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
                if states is None:
                    input_ids, mask = _pad([torch.tensor(ids[i]) for i in chunk])
                    logits = model(input_ids, mask)
                else:
                    hidden, mask = _pad([states[i] for i in chunk])
                    logits = model(attention_mask=mask, hidden=hidden, from_layer=first)
            loss = torch.nn.functional.cross_entropy(logits.float(), target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            loss_sum += loss.item() * len(target)
            seen += len(target)
            if progress is not None and rank == 0:
                progress.put_nowait((step, total, loss_sum / seen))

        metrics = {"epoch": epoch + 1, "train_loss": loss_sum / max(seen, 1)}
        if epoch + 1 < config["epochs"]:
            ray.train.report(metrics)
            continue
        with tempfile.TemporaryDirectory() as tmp:
            if rank == 0:
                save_version_files(net, spec, Path(tmp))
                checkpoint = ray.train.Checkpoint.from_directory(tmp)
            else:
                checkpoint = None
            ray.train.report(metrics, checkpoint=checkpoint)
