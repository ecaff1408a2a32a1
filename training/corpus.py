"""Walk a labelled corpus on disk into examples with their split.

Two layouts are understood: ``ham/`` and ``spam/`` folders, or the
SpamAssassin public corpus (``easy_ham*`` and ``hard_ham`` are ham,
``spam*`` is spam). The corpus's content hash goes into each model
version's lineage, so a model can be traced to the exact mail it saw.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from training.errors import CorpusError
from training.split import Split, split_of

LABELS = ("ham", "spam")


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled message file."""

    path: Path
    label: int
    """0 = ham, 1 = spam."""
    group: str
    """The folder it came from (``easy_ham``, ``spam_2``, ...)."""
    split: Split


def label_of_folder(name: str) -> int | None:
    """1 for spam folders, 0 for ham folders, None for anything else."""
    lowered = name.lower()
    if lowered == "ham" or lowered.startswith(("easy_ham", "hard_ham")):
        return 0
    if lowered.startswith("spam"):
        return 1
    return None


def walk_corpus(
    root: str | Path,
    exclude_groups: Iterable[str] = (),
    require_both: bool = True,
) -> list[Example]:
    """Every message file under the labelled folders of ``root``, sorted.

    Training needs both labels (``require_both``); evaluating one folder,
    such as ``hard_ham`` alone for a cross-source FPR, does not.
    """
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(str(root), "not a directory")
    excluded = set(exclude_groups)
    examples = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        label = label_of_folder(folder.name)
        if label is None or folder.name in excluded:
            continue
        for path in sorted(folder.iterdir()):
            if path.is_file() and not path.name.startswith("."):
                examples.append(Example(path, label, folder.name, split_of(path.name)))
    if not examples:
        raise CorpusError(str(root), "no ham/ or spam/ folders with messages")
    if require_both and len({e.label for e in examples}) < 2:
        raise CorpusError(str(root), "needs both ham and spam messages")
    return examples


def content_hash(examples: Iterable[Example]) -> str:
    """SHA-256 over every example's group, name, label and bytes, in order."""
    digest = hashlib.sha256()
    for example in sorted(examples, key=lambda e: (e.group, e.path.name)):
        digest.update(f"{example.group}/{example.path.name}:{example.label}\n".encode())
        digest.update(hashlib.sha256(example.path.read_bytes()).digest())
    return digest.hexdigest()


def select(examples: Iterable[Example], split: str) -> list[Example]:
    """Examples in one split, or all of them for ``"all"``."""
    if split == "all":
        return list(examples)
    if split not in ("train", "validation", "test"):
        raise ValueError(f"split must be train, validation, test or all: {split!r}")
    return [e for e in examples if e.split == split]
