"""The README's quick start, driven the way a new user runs it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections import Counter

import pytest
from imapclient import IMAPClient

from ingest.sender import collect, send_all, to_crlf
from storage.root import StorageRoot
from storage.sql import connect
from storage.tables import Tables
from tests.cluster.conftest import config_of, platform_settings, wait_for_rows

# 6,046 messages through a 256-token model on 2 cores: 10-15 minutes.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.ray,
    pytest.mark.corpus,
    pytest.mark.timeout(2400),
]

CORPUS_MESSAGES = 6046
USER, PASSWORD = "test@example.com", "test"
# mailray's own trace header, the first of every stored message.
RECEIVED = re.compile(rb"\AReceived: .*? id ([0-9a-f]{32})[;\r].*?\r\n(?=\S)", re.S)


def _cli(*args: str, env: dict[str, str] | None = None, timeout_s: float = 300) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "cluster.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_spamassassin_corpus_is_stored_scored_and_queryable(
    launch, spamassassin, mime_torture, tmp_path
):
    import os

    from cluster.process import config_env

    settings = platform_settings(tmp_path)
    platform = launch(settings)
    env = {**os.environ, **config_env(settings)}
    smtp = platform.wait_ready().smtp

    # mailray send, as the user types it.
    out = _cli(
        "send",
        "--to",
        "test@example.com",
        "--server",
        smtp,
        "-q",
        str(spamassassin),
        env=env,
        # The send lasts as long as classification keeps the queues full.
        timeout_s=1800,
    )
    assert f"sent: {CORPUS_MESSAGES}  refused: 0" in out

    count = wait_for_rows(
        settings, "SELECT count(*) FROM messages", CORPUS_MESSAGES, timeout_s=900
    )
    assert count == CORPUS_MESSAGES

    con = connect(config_of(settings))
    unscored = con.sql(
        "SELECT count(*) FROM messages WHERE spam_score IS NULL "
        "OR model_version IS NULL OR model_version = ''"
    ).fetchone()[0]
    assert unscored == 0
    assert con.sql("SELECT count(DISTINCT queue_id) FROM messages").fetchone()[0] == (
        CORPUS_MESSAGES
    )
    # Identical attachments are stored once: one object per distinct hash.
    hashes = con.sql("SELECT count(DISTINCT sha256) FROM attachments").fetchone()[0]
    objects = list((tmp_path / "store" / "objects" / "attachments").rglob("*"))
    assert hashes == len([p for p in objects if p.is_file()])
    # Batched and compacted: far fewer files than messages.
    tables = Tables(StorageRoot.from_config(config_of(settings).storage))
    files = {
        path
        for partition in tables.partitions("messages")
        for path in tables.files("messages", partition)
    }
    assert len(files - tables.superseded("messages")) < 40

    query = _cli(
        "query", "--format", "json", "SELECT count(*) AS n FROM messages", env=env
    )
    assert json.loads(query) == [{"n": CORPUS_MESSAGES}]

    # A client syncing INBOX and Junk gets every message byte for byte: what
    # was sent, behind the Received header mailray added, each in the folder
    # its verdict says.
    sent = Counter(to_crlf(m.data) for m in collect([spamassassin]))
    labels = dict(con.sql("SELECT queue_id, label FROM messages").fetchall())
    served = _sync(platform.wait_ready().imap, expected=CORPUS_MESSAGES)
    misfiled = []
    for folder, raws in served.items():
        for raw in raws:
            trace = RECEIVED.match(raw)
            assert trace, raw[:200]
            sent[raw[trace.end() :]] -= 1
            label = labels[trace.group(1).decode()]
            if (folder == "Junk") != (label == "spam"):
                misfiled.append((folder, label, trace.group(1)))
    assert not misfiled, misfiled[:5]
    assert not +sent and not -sent, "served bytes differ from the sent ones"
    assert served["Junk"], "the corpus is 31 % spam: Junk cannot be empty"

    status = json.loads(_cli("status", "--json", env=env))
    assert status["stored_messages"] == CORPUS_MESSAGES
    assert set(status["queues"]) == {"parse", "classify", "store"}
    assert status["serving_model_version"]

    # mime-torture: every message is stored or dead-lettered with a reason.
    torture = [
        m
        for m in collect([mime_torture])
        if "/LICENSES/" not in m.label and not m.label.endswith((".tsv", ".md"))
    ]
    summary = send_all(
        torture,
        host="127.0.0.1",
        port=int(smtp.rsplit(":", 1)[1]),
        mail_from="t@example.org",
        rcpt_tos=["test@example.com"],
        connections=4,
    )
    assert summary.sent == len(torture), summary.reasons()
    ids = "', '".join(summary.queue_ids.values())
    done = wait_for_rows(
        settings,
        f"SELECT (SELECT count(*) FROM messages WHERE queue_id IN ('{ids}')) + "
        f"(SELECT count(*) FROM dead_letters WHERE queue_id IN ('{ids}'))",
        len(torture),
        timeout_s=300,
    )
    assert done == len(torture)
    reasons = (
        connect(config_of(settings))
        .sql(f"SELECT error FROM dead_letters WHERE queue_id IN ('{ids}')")
        .fetchall()
    )
    assert all(error for (error,) in reasons)
    assert platform.proc.poll() is None  # nothing crashed the platform


def _sync(imap: str | None, expected: int, timeout_s: float = 300) -> dict:
    """Every message of INBOX and Junk, as a syncing client fetches them,
    once delivery has filed all ``expected`` of them."""
    assert imap, "the platform serves no IMAP"
    host, port = imap.rsplit(":", 1)
    with IMAPClient(host, port=int(port), ssl=False, timeout=120) as client:
        client.login(USER, PASSWORD)
        deadline = time.monotonic() + timeout_s
        while True:
            counts = {
                f: client.folder_status(f, [b"MESSAGES"])[b"MESSAGES"]
                for f in ("INBOX", "Junk")
            }
            if sum(counts.values()) >= expected or time.monotonic() > deadline:
                break
            time.sleep(1.0)
        assert sum(counts.values()) == expected, counts
        served: dict[str, list[bytes]] = {}
        for folder in counts:
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")
            served[folder] = [
                item[b"BODY[]"]
                for start in range(0, len(uids), 500)
                for item in client.fetch(
                    uids[start : start + 500], ["BODY.PEEK[]"]
                ).values()
            ]
        return served
