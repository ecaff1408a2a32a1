"""Run ``mailray up`` as a child process in its own session.

Benchmarks, the crash tests and scripts use it: the platform gets its own
Ray temp folder and session, so it can be stopped with SIGTERM, or killed
whole (driver, raylet, GCS and every worker) with SIGKILL, and its memory
summed over all of its processes.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from cluster.state import PlatformState


def config_env(settings: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """``{"smtp": {"port": 25}}`` as ``MAILRAY_SMTP_PORT=25``."""
    env = {}
    for section, fields in settings.items():
        for name, value in fields.items():
            text = value if isinstance(value, str) else json.dumps(value)
            env[f"MAILRAY_{section.upper()}_{name.upper()}"] = text
    return env


@dataclass
class PlatformProcess:
    proc: subprocess.Popen[bytes]
    state_file: Path
    ray_temp_dir: str
    log_path: Path

    @classmethod
    def launch(
        cls,
        settings: Mapping[str, Mapping[str, Any]],
        *,
        ray_temp_dir: str,
        log_path: Path,
        num_cpus: float | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> PlatformProcess:
        """Start ``mailray up``; ``settings`` must include pipeline.state_file."""
        state_file = Path(settings["pipeline"]["state_file"])
        state_file.unlink(missing_ok=True)
        env = {**os.environ, **config_env(settings), **(extra_env or {})}
        command = [sys.executable, "-m", "cluster.cli", "up"]
        command += ["--ray-temp-dir", ray_temp_dir]
        if num_cpus:
            command += ["--num-cpus", str(num_cpus)]
        log = log_path.open("ab")
        proc = subprocess.Popen(
            command,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
        log.close()
        return cls(proc, state_file, ray_temp_dir, log_path)

    def wait_ready(self, timeout_s: float = 600.0) -> PlatformState:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"mailray up exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            if self.state_file.exists():
                return PlatformState.read(self.state_file)
            time.sleep(0.5)
        raise TimeoutError(
            f"mailray up not ready after {timeout_s}s:\n{self.log_tail()}"
        )

    def processes(self) -> list[psutil.Process]:
        """Every process of this platform: its session, plus Ray's by temp dir."""
        sid = self.proc.pid
        found = []
        for process in psutil.process_iter(["pid", "cmdline"]):
            try:
                in_session = os.getsid(process.pid) == sid
                cmdline = " ".join(process.info["cmdline"] or [])
            except (ProcessLookupError, psutil.Error):
                continue
            if in_session or self.ray_temp_dir in cmdline:
                found.append(process)
        return found

    def memory_bytes(self) -> tuple[int, int]:
        """Memory of all of the platform's processes together: the sum of
        their proportional set sizes (shared pages split between the
        processes that map them, so this is what the machine gives the
        platform) and, for comparison, the sum of their resident sizes
        (which counts shared libraries and object-store pages once per
        process)."""
        pss = rss = 0
        for process in self.processes():
            try:
                info = process.memory_full_info()
            except psutil.Error:
                continue
            pss += info.pss
            rss += info.rss
        return pss, rss

    def stop(self, timeout_s: float = 60.0) -> int:
        """SIGTERM and wait: the clean shutdown path."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            return -9

    def kill(self) -> None:
        """SIGKILL the driver, raylet, GCS and every worker at once."""
        for _ in range(3):
            victims = self.processes()
            if not victims:
                break
            for process in victims:
                try:
                    process.send_signal(signal.SIGKILL)
                except psutil.Error:
                    continue
            psutil.wait_procs(victims, timeout=5)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)

    def log_tail(self, max_bytes: int = 6000) -> str:
        try:
            return self.log_path.read_bytes()[-max_bytes:].decode(errors="replace")
        except OSError:
            return ""
