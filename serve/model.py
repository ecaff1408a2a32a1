"""A loaded spam model: text in, probability of spam out.

``SpamModel.load(path)`` rebuilds a registry version and picks how to run
it. With ``dtype="auto"`` that is the fastest exact-enough choice on this
CPU: bf16 autocast where the CPU computes bf16 natively (avx512_bf16 or
AMX), int8 dynamic quantisation of the linear layers elsewhere. fp32 is
always available for checking the others against.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import torch

from serve.errors import ModelLoadError
from serve.network import SPEC_FILE, WEIGHTS_FILE, NetworkSpec, load_network

log = logging.getLogger("mailray.serve")

Dtype = Literal["auto", "fp32", "bf16", "int8"]

DEFAULT_BATCH_TOKENS = 4096


@cache
def cpu_has_native_bf16() -> bool:
    """True where the CPU has bf16 instructions (avx512_bf16 or AMX)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_dtype(dtype: Dtype, device: str = "cpu", native_bf16: bool = False) -> str:
    """The concrete inference dtype for a requested one (a pure decision)."""
    if dtype not in ("auto", "fp32", "bf16", "int8"):
        raise ValueError(f"dtype must be auto, fp32, bf16 or int8: {dtype!r}")
    if dtype != "auto":
        return dtype
    if device != "cpu":
        return "bf16"
    return "bf16" if native_bf16 else "int8"


def default_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _quantize_int8(net: torch.nn.Module) -> torch.nn.Module:
    # TODO(#2): torch deprecates eager dynamic quantisation; move to torchao
    # once it is a dependency. bf16 is the path used on this hardware.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module="torch")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        return torch.ao.quantization.quantize_dynamic(
            net, {torch.nn.Linear}, dtype=torch.qint8
        )


@dataclass
class SpamModel:
    """A model version ready to score texts made by ``serve.text``."""

    version: str
    spec: NetworkSpec
    net: torch.nn.Module
    tokenizer: object
    dtype: str
    batch_tokens: int = DEFAULT_BATCH_TOKENS
    """Most padded tokens in one forward pass (see :meth:`predict`)."""

    @property
    def threshold(self) -> float:
        return self.spec.threshold

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        dtype: Dtype = "auto",
        version: str | None = None,
        torch_threads: int = 0,
        batch_tokens: int = DEFAULT_BATCH_TOKENS,
    ) -> SpamModel:
        """Load a version folder; raises ModelLoadError if it is unusable."""
        from transformers import AutoTokenizer

        from serve.network import base_model_path

        folder = Path(path)
        for name in (SPEC_FILE, WEIGHTS_FILE):
            if not (folder / name).is_file():
                raise ModelLoadError(str(folder), f"{name} is missing")
        torch.set_num_threads(torch_threads or default_threads())
        try:
            net, spec = load_network(folder)
            tokenizer = AutoTokenizer.from_pretrained(
                base_model_path(spec.base_model), local_files_only=True
            )
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise ModelLoadError(str(folder), str(exc)) from exc

        chosen = resolve_dtype(dtype, "cpu", cpu_has_native_bf16())
        if chosen == "int8":
            net = _quantize_int8(net)
        log.info("loaded model %s from %s as %s", version, folder, chosen)
        return cls(version or folder.name, spec, net, tokenizer, chosen, batch_tokens)

    def predict(self, texts: Sequence[str], batch_size: int = 32) -> list[float]:
        """Probability of spam for each text, in order.

        Texts are tokenized once, sorted by length and cut into batches of
        at most ``batch_size`` texts and ``batch_tokens`` padded tokens, so a
        few long messages never pad a whole batch of short ones to the
        model's window.
        """
        if isinstance(texts, str):
            raise TypeError("texts must be a sequence of strings, not one string")
        if not texts:
            return []

        encoded = self.tokenizer(
            list(texts), truncation=True, max_length=self.spec.max_tokens
        )["input_ids"]
        scores = [0.0] * len(texts)
        for chunk in length_batches(
            [len(ids) for ids in encoded], batch_size, self.batch_tokens
        ):
            for i, score in zip(
                chunk, self._score([encoded[i] for i in chunk]), strict=True
            ):
                scores[i] = score
        return scores

    @torch.inference_mode()
    def _score(self, input_ids: list[list[int]]) -> list[float]:
        batch = self.tokenizer.pad({"input_ids": input_ids}, return_tensors="pt")
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.dtype == "bf16"):
            logits = self.net(batch["input_ids"], batch["attention_mask"])
        return torch.softmax(logits.float(), dim=-1)[:, 1].tolist()


def length_batches(
    lengths: Sequence[int], max_texts: int, max_tokens: int
) -> list[list[int]]:
    """Indexes of ``lengths`` in batches of similar length.

    Shortest first; a batch closes when one more text would exceed
    ``max_texts`` or make ``count * longest`` exceed ``max_tokens`` (a text
    longer than the budget still gets a batch of its own).
    """
    if max_texts < 1 or max_tokens < 1:
        raise ValueError("max_texts and max_tokens must be >= 1")
    batches: list[list[int]] = []
    current: list[int] = []
    for i in sorted(range(len(lengths)), key=lengths.__getitem__):
        if current and (
            len(current) == max_texts or (len(current) + 1) * lengths[i] > max_tokens
        ):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches
