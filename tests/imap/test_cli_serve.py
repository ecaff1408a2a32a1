"""``mailray imap-serve`` runs a server a mail client can log in to."""

from __future__ import annotations

import imaplib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.slow


def test_imap_serve_accepts_a_login(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "MAILRAY_IMAP_PORT": str(port),
        "MAILRAY_SMTP_PORT": str(free_port()),
        "MAILRAY_HTTP_PORT": str(free_port()),
        "MAILRAY_STORAGE_ROOT": str(tmp_path / "store"),
        "MAILRAY_IMAP_METADATA_PATH": str(tmp_path / "metadata.sqlite3"),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "cluster.cli", "imap-serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert server.stdout is not None
        assert server.stdout.readline().strip() == f"IMAP on 127.0.0.1:{port}"
        client = imaplib.IMAP4("127.0.0.1", port, timeout=10)
        client.login("test@example.com", "test")
        assert client.select("Junk") == ("OK", [b"0"])
        client.logout()
    finally:
        server.terminate()
        server.wait(10)
