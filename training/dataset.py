"""Turn corpus examples into model texts and token ids, once per run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from serve.text import message_text
from training.corpus import Example


@dataclass(frozen=True)
class Encoded:
    """Token ids (unpadded) and labels, cheap to ship to Train workers."""

    input_ids: list[list[int]]
    labels: list[int]

    def __len__(self) -> int:
        return len(self.labels)


def texts_of(examples: Sequence[Example]) -> list[str]:
    """The model text of each example's file."""
    return [message_text(e.path.read_bytes()) for e in examples]


def encode(tokenizer, texts: Sequence[str], labels: Sequence[int], max_tokens: int):
    """Tokenise every text once, truncated to ``max_tokens``."""
    ids = tokenizer(list(texts), truncation=True, max_length=max_tokens)["input_ids"]
    return Encoded(input_ids=list(ids), labels=list(labels))
