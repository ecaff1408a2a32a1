"""The embedding space, without the encoder: its width and what is embedded.

Kept apart from :mod:`serve.embedding` so that code writing or reading
vectors (the store stage, the search API) does not import torch until it
actually embeds something.
"""

from __future__ import annotations

EMBEDDING_DIM = 384
DEFAULT_MAX_TOKENS = 128
"""Bounds the cost: a subject and the first paragraph or two of the body."""
MAX_TEXT_CHARS = 2000
"""More than ``DEFAULT_MAX_TOKENS`` ever holds; keeps tokenising cheap."""


def embedding_text(subject: str, body: str, max_chars: int = MAX_TEXT_CHARS) -> str:
    """What a message is embedded (and full-text indexed) as."""
    collapsed = " ".join(f"{subject}\n{body}".split())
    return collapsed[:max_chars]
