"""IMAP on a large mailbox: SELECT, STATUS, header FETCH, UID SEARCH, IDLE push.

A server without Ray (the same code the actor runs) gets a mailbox of
synthetic messages through the delivery hook, then one imaplib client
measures what mail clients do on every sync, and a raw socket in IDLE
measures how long a newly delivered message takes to be announced.

    .venv/bin/python -m benchmarks.imap              # 10,000 messages
    .venv/bin/python -m benchmarks.imap --small      # CI smoke test
"""

from __future__ import annotations

import argparse
import imaplib
import socket
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

USER = "bench@example.com"
PASSWORD = "bench"
SUBJECTS = ("invoice", "meeting notes", "weekly report", "lunch?", "build failed")


def _message(index: int) -> bytes:
    subject = f"{SUBJECTS[index % len(SUBJECTS)]} #{index}"
    body = f"Line {index} of a synthetic message.\r\n" * 20
    return (
        f"From: Sender {index % 97} <sender{index % 97}@remote.test>\r\n"
        f"To: {USER}\r\n"
        f"Subject: {subject}\r\n"
        f"Date: Mon, 01 Jan 2024 10:{index % 60:02d}:00 +0000\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@remote.test>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        f"{body}"
    ).encode()


def _stored(root, index: int, received_at: datetime):
    from imap.objects import raw_key_for
    from ingest.types import StoredMessage

    queue_id = f"bench{index:08d}{uuid.uuid4().hex[:8]}"
    key = raw_key_for(queue_id)
    raw = _message(index)
    path = Path(root.path(key))
    path.parent.mkdir(parents=True, exist_ok=True)
    # Setup only: the pipeline has already made these durable.
    path.write_bytes(raw)
    return StoredMessage(
        queue_id=queue_id,
        mail_from=f"sender{index % 97}@remote.test",
        rcpt_tos=(USER,),
        received_at=received_at,
        size=len(raw),
        raw_key=key,
        message_id="",
        subject="",
        from_="",
        spam_score=0.9 if index % 10 == 0 else 0.05,
        label="spam" if index % 10 == 0 else "ham",
        model_version="bench",
    )


def _timed(action) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def _idle_latency_s(
    server, root, port: int, rounds: int, first_index: int
) -> list[float]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    reader = sock.makefile("rb")
    reader.readline()
    sock.sendall(f'l LOGIN "{USER}" "{PASSWORD}"\r\ns SELECT INBOX\r\n'.encode())
    while not reader.readline().startswith(b"s "):
        pass
    latencies = []
    for round_ in range(rounds):
        sock.sendall(f"i{round_} IDLE\r\n".encode())
        assert reader.readline().startswith(b"+ ")
        # Index not divisible by ten: a ham message, delivered to INBOX.
        message = _stored(root, first_index + 10 * round_ + 1, datetime.now(UTC))
        start = time.perf_counter()
        server.deliver([message])
        while not reader.readline().rstrip().endswith(b"EXISTS"):
            pass
        latencies.append(time.perf_counter() - start)
        sock.sendall(b"DONE\r\n")
        while not reader.readline().startswith(f"i{round_} ".encode()):
            pass
    sock.sendall(b"z LOGOUT\r\n")
    sock.close()
    return latencies


def run(messages: int, batch_size: int = 500) -> dict[str, float]:
    from cluster.config import Config, ImapConfig, StorageConfig, UserConfig
    from imap.service import LocalImap
    from storage.root import StorageRoot

    workdir = Path(tempfile.mkdtemp(prefix="mailray-imap-bench-"))
    config = Config(
        storage=StorageConfig(root=str(workdir / "store")),
        imap=ImapConfig(port=0, metadata_path=str(workdir / "metadata.sqlite3")),
        smtp={"port": 0},
        http={"port": 0},
        users=(UserConfig(name=USER, password=PASSWORD, addresses=(USER,)),),
    )
    root = StorageRoot.from_config(config.storage)
    figures: dict[str, float] = {"messages": float(messages)}
    with LocalImap(config, root) as server:
        start_at = datetime.now(UTC) - timedelta(days=30)
        stored = [
            _stored(root, i, start_at + timedelta(seconds=i)) for i in range(messages)
        ]
        elapsed = 0.0
        for offset in range(0, messages, batch_size):
            seconds, _ = _timed(
                lambda o=offset: server.deliver(stored[o : o + batch_size])
            )
            elapsed += seconds
        figures["deliver_msg_per_s"] = messages / elapsed

        client = imaplib.IMAP4("127.0.0.1", server.port, timeout=300)
        client.login(USER, PASSWORD)
        seconds, (status, data) = _timed(lambda: client.select("INBOX"))
        inbox_count = int(data[0])
        figures["inbox_messages"] = float(inbox_count)
        figures["select_s"] = seconds

        def status_all() -> int:
            _, listing = client.list()
            names = [line.rsplit(b' "/" ', 1)[1].decode() for line in listing]
            for name in names:
                client.status(name, "(MESSAGES UNSEEN UIDNEXT UIDVALIDITY RECENT)")
            return len(names)

        seconds, folders = _timed(status_all)
        figures["status_all_folders_s"] = seconds
        figures["folders"] = float(folders)

        seconds, (status, data) = _timed(
            lambda: client.fetch("1:*", "(UID FLAGS RFC822.SIZE BODY.PEEK[HEADER])")
        )
        assert status == "OK"
        figures["fetch_all_headers_s"] = seconds
        figures["fetch_headers_msg_per_s"] = inbox_count / seconds

        seconds, (status, data) = _timed(
            lambda: client.uid("SEARCH", None, "UNSEEN", "SUBJECT", "invoice")
        )
        assert status == "OK"
        figures["uid_search_subject_s"] = seconds
        figures["uid_search_hits"] = float(len(data[0].split()))
        seconds, (status, _) = _timed(
            lambda: client.uid("SEARCH", None, "UNSEEN", "LARGER", "1000")
        )
        figures["uid_search_flags_size_s"] = seconds
        client.logout()

        latencies = _idle_latency_s(server, root, server.port, 5, messages)
        figures["idle_push_median_ms"] = statistics.median(latencies) * 1000
        figures["idle_push_max_ms"] = max(latencies) * 1000
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--small", action="store_true", help="200 messages (CI)")
    args = parser.parse_args(argv)
    messages = 200 if args.small else args.messages
    figures = run(messages)
    for name, value in figures.items():
        print(f"{name:28s} {value:12.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
