"""SIGKILL the whole platform mid-send; after a restart nothing is lost."""

from __future__ import annotations

import os
import smtplib
import threading
import time

import pytest

from ingest.spool import Spool
from storage.sql import connect
from tests.cluster.conftest import config_of, platform_settings, wait_for_rows

pytestmark = [pytest.mark.slow, pytest.mark.ray]

TOTAL = 400


def _message(index: int) -> bytes:
    return (
        f"From: crash-test@example.org\r\nTo: test@example.com\r\n"
        f"Subject: crash test {index}\r\nMessage-ID: <crash-{index}@test>\r\n"
        f"\r\nMessage number {index}.\r\n"
    ).encode()


class Sender(threading.Thread):
    """One connection, no retries: records exactly which messages got 250."""

    def __init__(self, port: int, indexes: range) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.indexes = indexes
        self.acknowledged: dict[int, str] = {}
        self.attempted: set[int] = set()

    def run(self) -> None:
        try:
            with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as client:
                client.ehlo("crash.test")
                for index in self.indexes:
                    self.attempted.add(index)
                    client.mail("crash-test@example.org")
                    client.rcpt("test@example.com")
                    code, text = client.data(_message(index))
                    if code == 250:
                        self.acknowledged[index] = text.decode().rsplit(" ", 1)[-1]
                    time.sleep(0.005)
        except (OSError, smtplib.SMTPException):
            return  # the platform was killed under us


def test_sigkill_of_whole_platform_loses_no_acknowledged_message(launch, tmp_path):
    settings = platform_settings(tmp_path)
    platform = launch(settings)
    port = int(platform.wait_ready().smtp.rsplit(":", 1)[1])

    senders = [Sender(port, range(i, TOTAL, 4)) for i in range(4)]
    for sender in senders:
        sender.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if sum(len(s.acknowledged) for s in senders) >= TOTAL // 3:
            break
        time.sleep(0.05)
    platform.kill()
    assert platform.processes() == []
    for sender in senders:
        sender.join(timeout=60)

    acknowledged = {i: q for s in senders for i, q in s.acknowledged.items()}
    attempted = set().union(*(s.attempted for s in senders))
    assert TOTAL // 3 <= len(acknowledged) < TOTAL

    # The kill caught messages between the 250 and the store: recovery is
    # what this test exercises.
    stored_before = (
        connect(config_of(settings)).sql("SELECT count(*) FROM messages").fetchone()[0]
    )
    assert stored_before < len(acknowledged)
    assert list(Spool(settings["smtp"]["spool_dir"]).pending())

    launch(settings)
    wait_for_rows(
        settings,
        "SELECT count(DISTINCT message_id) FROM messages",
        len(acknowledged),
        timeout_s=300,
    )
    time.sleep(3)  # let any duplicate, were there one, land too
    rows = (
        connect(config_of(settings))
        .sql("SELECT message_id, queue_id FROM messages")
        .fetchall()
    )
    stored: dict[int, list[str]] = {}
    for message_id, queue_id in rows:
        index = int(message_id.removeprefix("<crash-").removesuffix("@test>"))
        stored.setdefault(index, []).append(queue_id)

    assert set(stored) <= attempted, "stored a message that was never sent"
    assert all(len(q) == 1 for q in stored.values()), "stored a message twice"
    for index, queue_id in acknowledged.items():
        assert stored.get(index) == [queue_id], f"lost acknowledged message {index}"


# RAY_AUTH_MODE must be set before Ray is imported: see the env below.
KILL_ACTOR = """
import sys, ray
ray.init(address=sys.argv[1], namespace="mailray", log_to_driver=False)
for name in sys.argv[2:]:
    ray.kill(ray.get_actor(name), no_restart=False)
"""


def test_killed_stage_actors_are_restarted_and_lose_nothing(launch, tmp_path):
    import subprocess
    import sys

    settings = platform_settings(
        tmp_path, pipeline={"redeliver_after_s": 5, "sweep_interval_s": 2}
    )
    platform = launch(settings)
    state = platform.wait_ready()
    port = int(state.smtp.rsplit(":", 1)[1])

    senders = [Sender(port, range(i, 200, 2)) for i in range(2)]
    for sender in senders:
        sender.start()
    while sum(len(s.acknowledged) for s in senders) < 60:
        time.sleep(0.05)
    subprocess.run(
        [
            sys.executable,
            "-c",
            KILL_ACTOR,
            state.ray_address,
            "mailray.parse.0",
            "mailray.classify.0",
            "mailray.store",
        ],
        env={**os.environ, "RAY_AUTH_MODE": "token"},
        check=True,
        timeout=120,
    )
    for sender in senders:
        sender.join(timeout=120)

    acknowledged = {i: q for s in senders for i, q in s.acknowledged.items()}
    assert len(acknowledged) == 200
    wait_for_rows(settings, "SELECT count(*) FROM messages", 200, timeout_s=300)
    time.sleep(8)  # past redeliver_after_s: a duplicate would have landed
    rows = (
        connect(config_of(settings))
        .sql("SELECT message_id, count(*) FROM messages GROUP BY message_id")
        .fetchall()
    )
    assert len(rows) == 200
    assert all(count == 1 for _, count in rows)
    assert platform.proc.poll() is None
