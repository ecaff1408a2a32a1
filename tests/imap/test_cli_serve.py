"""``mailray imap-serve`` runs a server a mail client can log in to."""

from __future__ import annotations

import imaplib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.slow


def _env(tmp_path: Path, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "MAILRAY_IMAP_PORT": str(port),
        "MAILRAY_SMTP_PORT": str(free_port()),
        "MAILRAY_HTTP_PORT": str(free_port()),
        "MAILRAY_STORAGE_ROOT": str(tmp_path / "store"),
        "MAILRAY_IMAP_METADATA_PATH": str(tmp_path / "metadata.sqlite3"),
    }


def _serve(env: dict[str, str], port: int) -> subprocess.Popen[str]:
    server = subprocess.Popen(
        [sys.executable, "-m", "cluster.cli", "imap-serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert server.stdout is not None
    assert server.stdout.readline().strip() == f"IMAP on 127.0.0.1:{port}"
    return server


def test_imap_serve_accepts_a_login(tmp_path: Path) -> None:
    port = free_port()
    server = _serve(_env(tmp_path, port), port)
    try:
        client = imaplib.IMAP4("127.0.0.1", port, timeout=10)
        client.login("test@example.com", "test")
        assert client.select("Junk") == ("OK", [b"0"])
        client.logout()
    finally:
        server.terminate()
        server.wait(10)


def test_what_was_acknowledged_survives_a_kill(tmp_path: Path) -> None:
    port = free_port()
    env = _env(tmp_path, port)
    # The pump would not drain the labels before the kill on its own.
    env["MAILRAY_IMAP_FEEDBACK_FLUSH_INTERVAL_S"] = "600"
    server = _serve(env, port)
    try:
        client = imaplib.IMAP4("127.0.0.1", port, timeout=10)
        client.login("test@example.com", "test")
        client.append("INBOX", None, None, b"Subject: keep\r\n\r\nkept\r\n")
        client.select("INBOX")
        client.uid("MOVE", "1", "Junk")
    finally:
        server.kill()
        server.wait(10)

    env["MAILRAY_IMAP_FEEDBACK_FLUSH_INTERVAL_S"] = "0.1"
    server = _serve(env, port)
    try:
        client = imaplib.IMAP4("127.0.0.1", port, timeout=10)
        client.login("test@example.com", "test")
        client.select("Junk")
        _, data = client.fetch("1", "(BODY.PEEK[])")
        assert data[0][1] == b"Subject: keep\r\n\r\nkept\r\n"
        client.logout()
        feedback = tmp_path / "store" / "tables" / "feedback"
        deadline = time.monotonic() + 10
        while not list(feedback.glob("*/*.parquet")):
            assert time.monotonic() < deadline, "the queued label was lost"
            time.sleep(0.1)
    finally:
        server.terminate()
        server.wait(10)
