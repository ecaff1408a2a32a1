"""SMTP accept rate of the ingest layer alone, durable spool included.

Postfix's ``smtp-source`` opens 16 sessions and sends 2 KB messages to one
ingest actor; every 250 means the message was fsynced to the spool and put
on the (bounded, batched) parse queue. Nothing downstream runs.

    .venv/bin/python -m benchmarks.ingest            # 5,000 messages
    .venv/bin/python -m benchmarks.ingest --small    # CI smoke test
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_MSG_S = 1000.0


def run(messages: int, sessions: int, size_bytes: int) -> dict[str, float]:
    import ray

    from cluster.config import load_config
    from ingest import queues
    from ingest.actor import IngestActor
    from ingest.spool import Spool

    smtp_source = shutil.which("smtp-source")
    if smtp_source is None:
        raise SystemExit("smtp-source (Postfix) is not installed: make peers")
    workdir = Path(tempfile.mkdtemp(prefix="mailray-bench-"))
    ray.init(
        num_cpus=4,
        include_dashboard=False,
        configure_logging=False,
        log_to_driver=False,
        namespace=f"bench-{workdir.name}",
    )
    try:
        config = load_config(
            smtp={"port": 0, "spool_dir": str(workdir / "spool")},
            pipeline={"queue_max_items": messages + 100},
        )
        queue = queues.make_queue("bench", max_items=messages + 100)
        actor = ray.remote(IngestActor).options(num_cpus=0.5).remote(config, queue)
        _, port = ray.get(actor.start.remote())

        started = time.perf_counter()
        subprocess.run(
            [
                smtp_source,
                "-s",
                str(sessions),
                "-l",
                str(size_bytes),
                "-m",
                str(messages),
                "-f",
                "bench@example.org",
                "-t",
                "test@example.com",
                f"127.0.0.1:{port}",
            ],
            check=True,
            timeout=600,
        )
        elapsed_s = time.perf_counter() - started
        stats = ray.get(actor.stats.remote())
        spooled = len(list(Spool(config.smtp.spool_dir).pending()))
        queued = queue.size()
        ray.get(actor.stop.remote())
    finally:
        ray.shutdown()
        shutil.rmtree(workdir, ignore_errors=True)
    return {
        "messages": messages,
        "accepted": stats["accepted"],
        "refused": stats["refused_busy"],
        "spooled": spooled,
        "queued": queued,
        "elapsed_s": elapsed_s,
        "msg_per_s": stats["accepted"] / elapsed_s,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="CI smoke size")
    parser.add_argument("--messages", type=int, default=None)
    parser.add_argument("--sessions", type=int, default=16)
    parser.add_argument("--size-bytes", type=int, default=2048)
    args = parser.parse_args(argv)
    messages = args.messages or (200 if args.small else 5000)

    result = run(messages, args.sessions, args.size_bytes)
    print(
        f"ingest: {result['accepted']}/{result['messages']} accepted "
        f"({result['refused']} refused busy), {result['spooled']} spooled, "
        f"{result['queued']} queued"
    )
    print(
        f"ingest: {result['msg_per_s']:.0f} msg/s over {result['elapsed_s']:.2f}s "
        f"with {args.sessions} sessions of {args.size_bytes} B "
        f"(target >= {TARGET_MSG_S:.0f})"
    )
    ok = result["accepted"] == result["spooled"] == result["queued"] == messages
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
