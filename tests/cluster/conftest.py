"""Run the real platform (``mailray up``) as a child process for a test."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks.launch import platform_settings as launch_settings
from cluster.config import load_config
from cluster.process import PlatformProcess
from storage.sql import connect

PLATFORM_CPUS = 4


def platform_settings(workdir: Path, **sections: dict[str, Any]) -> dict[str, dict]:
    """The benchmarks' settings, with quicker flushes and one CPU to classify."""
    settings = launch_settings(workdir)
    settings["pipeline"]["flush_interval_s"] = 0.5
    settings["classifier"] = {"num_cpus": 1}
    for section, fields in sections.items():
        settings.setdefault(section, {}).update(fields)
    return settings


def config_of(settings: dict[str, dict]) -> Any:
    return load_config(**settings)


@pytest.fixture
def launch(tmp_path) -> Iterator[Callable[..., PlatformProcess]]:
    """Start ``mailray up``; every platform started is torn down at the end."""
    started: list[PlatformProcess] = []
    temp_dirs: list[str] = []

    def start(settings: dict[str, dict], timeout_s: float = 600) -> PlatformProcess:
        ray_temp = tempfile.mkdtemp(prefix="mr", dir="/tmp")
        temp_dirs.append(ray_temp)
        platform = PlatformProcess.launch(
            settings,
            ray_temp_dir=ray_temp,
            log_path=tmp_path / f"platform-{len(started)}.log",
            num_cpus=PLATFORM_CPUS,
        )
        started.append(platform)
        platform.wait_ready(timeout_s)
        return platform

    yield start
    for platform in started:
        if platform.proc.poll() is None:
            platform.stop(timeout_s=60)
        platform.kill()
        # Shown by pytest only when the test failed: what the platform said.
        print(f"--- the end of {platform.log_path} ---")
        print(platform.log_tail(max_bytes=16_000))
    for path in temp_dirs:
        shutil.rmtree(path, ignore_errors=True)


def wait_for_rows(
    settings: dict[str, dict], sql: str, expected: int, timeout_s: float
) -> int:
    """Poll ``sql`` (a count) until it reaches ``expected``; returns the last."""
    config = config_of(settings)
    deadline = time.monotonic() + timeout_s
    count = -1
    while time.monotonic() < deadline:
        count = connect(config).sql(sql).fetchone()[0]
        if count >= expected:
            return count
        time.sleep(1.0)
    return count
