"""The whole platform (``mailray up``) for a benchmark: started, then stopped.

Each run gets free ports and its own storage root, spool, IMAP metadata,
state file and Ray temp folder, so a benchmark never meets another's state.
Everything else is the default configuration, as an operator would run it.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cluster.config import Config, load_config
from cluster.process import PlatformProcess
from cluster.state import PlatformState
from tests.conftest import free_port

PLATFORM_CPUS = 4


def platform_settings(workdir: Path) -> dict[str, dict[str, Any]]:
    """Ports and paths for one run; the rest stays at its defaults."""
    return {
        "storage": {"root": str(workdir / "store")},
        "smtp": {"port": free_port(), "spool_dir": str(workdir / "spool")},
        "http": {"port": free_port()},
        "imap": {
            "port": free_port(),
            "metadata_path": str(workdir / "metadata.sqlite3"),
        },
        "pipeline": {"state_file": str(workdir / "platform.json")},
    }


def _port(endpoint: str) -> int:
    return int(endpoint.rsplit(":", 1)[1])


@dataclass(frozen=True)
class RunningPlatform:
    process: PlatformProcess
    state: PlatformState
    config: Config
    """The configuration the platform runs with (same settings, same env)."""

    @property
    def smtp_port(self) -> int:
        return _port(self.state.smtp)

    @property
    def imap_port(self) -> int:
        if self.state.imap is None:
            raise RuntimeError("the platform serves no IMAP")
        return _port(self.state.imap)


@contextmanager
def running_platform(
    workdir: Path, num_cpus: float = PLATFORM_CPUS, ready_timeout_s: float = 600
) -> Iterator[RunningPlatform]:
    """``mailray up`` with its data under ``workdir``; stopped and killed after."""
    settings = platform_settings(workdir)
    # Validated here, before a child process binds anything.
    config = load_config(**settings)
    ray_temp = tempfile.mkdtemp(prefix="mrb", dir="/tmp")
    process = PlatformProcess.launch(
        settings,
        ray_temp_dir=ray_temp,
        log_path=workdir / "platform.log",
        num_cpus=num_cpus,
    )
    try:
        state = process.wait_ready(timeout_s=ready_timeout_s)
        yield RunningPlatform(process, state, config)
    finally:
        process.stop(timeout_s=60)
        process.kill()
        shutil.rmtree(ray_temp, ignore_errors=True)
