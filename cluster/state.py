"""The running platform's state file: where to reach it.

``mailray up`` writes it once everything listens and removes it on a clean
shutdown; ``mailray status`` reads it to join the Ray cluster.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from storage.files import fsync_dir


@dataclass(frozen=True, slots=True)
class PlatformState:
    ray_address: str
    namespace: str
    smtp: str
    http: str
    imap: str | None
    storage_root: str
    pid: int

    def write(self, path: str | os.PathLike[str]) -> None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        os.replace(tmp, target)
        fsync_dir(str(target.parent))

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> PlatformState:
        return cls(**json.loads(Path(path).read_text()))
