"""The bogofilter baseline: Debian's Bayesian filter on the same split.

A throwaway wordlist is trained on the train split's raw messages, then
the evaluated messages are scored in bulk; bogofilter's spamicity is the
score.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence

from training.corpus import Example

TIMEOUT_S = 600


def bogofilter_available() -> bool:
    return shutil.which("bogofilter") is not None


def _run(args: list[str], paths: Sequence[str]) -> str:
    done = subprocess.run(
        args,
        input="\n".join(paths) + "\n",
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    if done.returncode not in (0, 1, 2):
        raise RuntimeError(
            f"bogofilter failed ({done.returncode}): {done.stderr[:300]}"
        )
    return done.stdout


def bogofilter_scores(
    train: Sequence[Example], scored: Sequence[Example]
) -> list[float]:
    """Spamicity of each ``scored`` message after training on ``train``."""
    with tempfile.TemporaryDirectory(prefix="mailray-bogofilter-") as wordlists:
        base = ["bogofilter", "-C", "-d", wordlists]
        for label, flag in ((1, "-s"), (0, "-n")):
            paths = [str(e.path) for e in train if e.label == label]
            _run([*base, flag, "-b"], paths)
        out = _run([*base, "-b", "-T"], [str(e.path) for e in scored])

    by_path: dict[str, float] = {}
    for line in out.splitlines():
        parts = line.rsplit(None, 2)
        if len(parts) == 3:
            try:
                by_path[parts[0]] = float(parts[2])
            except ValueError:
                continue
    return [by_path.get(str(e.path), 0.5) for e in scored]
