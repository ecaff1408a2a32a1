"""End-to-end rate: SMTP in, parsed, classified, stored, queryable.

Runs ``mailray up`` as a child process (its own Ray), sends the
SpamAssassin corpus with ``mailray send``'s sender, and times the first
connection to the moment the last row is visible to SQL. Then it measures
the classifier alone through its Serve handle on the same texts, in the
same cluster, and prints the ratio, a per-stage breakdown of busy and CPU
time, and the platform's resident memory at idle and under load.

    .venv/bin/python -m benchmarks.pipeline            # the 6,046 messages
    .venv/bin/python -m benchmarks.pipeline --small    # 200, for CI
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

TARGET_RATIO = 0.8
TARGET_MEMORY_BYTES = 4 * 1024**3
DEFAULT_CORPUS = Path(
    os.environ.get(
        "MAILRAY_CORPUS",
        Path(__file__).resolve().parent.parent.parent / "shared" / "corpus",
    )
)


def _messages(corpus: Path, limit: int | None):
    from ingest.sender import Outgoing, collect

    folder = corpus / "spamassassin"
    if folder.is_dir():
        messages = list(collect([folder]))
    else:
        # No corpus (it ships to developers and CI only): the test fixtures.
        fixtures = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
        base = list(collect([fixtures / "ingest"]))
        messages = [Outgoing(f"{m.label}#{i}", m.data) for i in range(50) for m in base]
    if limit:
        # Every n-th message, so a small run still mixes ham and spam.
        step = max(1, len(messages) // limit)
        messages = messages[::step][:limit]
    return messages


class MemorySampler(threading.Thread):
    def __init__(self, platform, interval_s: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.platform = platform
        self.interval_s = interval_s
        self.peak_bytes = (0, 0)
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            pss, rss = self.platform.memory_bytes()
            self.peak_bytes = (
                max(self.peak_bytes[0], pss),
                max(self.peak_bytes[1], rss),
            )
            self.stopped.wait(self.interval_s)


# Runs in its own process: a driver joining a token-auth Ray cluster must
# have RAY_AUTH_MODE set before Ray is first imported.
_SCORE_SCRIPT = """
import asyncio, json, sys, time
import ray
from ray import serve
from serve.classifier import APP_NAME

ray.init(address=sys.argv[1], namespace="mailray", log_to_driver=False)
texts = json.load(open(sys.argv[2]))
handle = serve.get_app_handle(APP_NAME)

async def score_all():
    # As the classify stage keeps it: a steady number of requests in flight
    # (its concurrent batches), not waves that drain between them.
    in_flight = asyncio.Semaphore(int(sys.argv[3]))

    async def one(text):
        async with in_flight:
            await handle.classify_text.remote(text)

    started = time.perf_counter()
    await asyncio.gather(*(one(t) for t in texts))
    return len(texts) / (time.perf_counter() - started)

print(asyncio.run(score_all()))
"""


def _classifier_rate(state, texts: list[str], workdir: Path, in_flight: int) -> float:
    """Texts/s through the classifier's Serve handle alone, same cluster."""
    import json
    import subprocess

    texts_path = workdir / "texts.json"
    texts_path.write_text(json.dumps(texts))
    script = [_SCORE_SCRIPT, state.ray_address, str(texts_path), str(in_flight)]
    result = subprocess.run(
        [sys.executable, "-c", *script],
        env={**os.environ, "RAY_AUTH_MODE": "token"},
        capture_output=True,
        text=True,
        timeout=1800,
        check=True,
    )
    return float(result.stdout.strip().splitlines()[-1])


def _wait_for_search(config, rows: int, timeout_s: float = 1800) -> float:
    """When the vector table holds ``rows`` rows (perf_counter), or gave up."""
    from storage.root import StorageRoot
    from storage.vectors import VectorStore

    if not config.search.enabled:
        return time.perf_counter()
    root = StorageRoot.from_config(config.storage)
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        try:
            if VectorStore(root).count() >= rows:
                break
        except Exception:  # no table yet
            pass
        time.sleep(1.0)
    return time.perf_counter()


def run(messages, workdir: Path) -> dict:
    from benchmarks.launch import running_platform
    from cluster.status import collect_status
    from ingest.classify_stage import ClassifyStage
    from ingest.mime import parse_message
    from ingest.sender import send_all
    from serve.text import model_text
    from storage.sql import connect

    with running_platform(workdir) as platform:
        state, config = platform.state, platform.config
        time.sleep(3)
        idle_bytes = platform.process.memory_bytes()
        sampler = MemorySampler(platform.process)
        sampler.start()

        started = time.perf_counter()
        summary = send_all(
            messages,
            host="127.0.0.1",
            port=platform.smtp_port,
            mail_from="bench@example.org",
            rcpt_tos=["test@example.com"],
            connections=8,
        )
        sent_s = time.perf_counter() - started
        stored = 0
        while stored < summary.sent:
            stored = connect(config).sql("SELECT count(*) FROM messages").fetchone()[0]
            if time.perf_counter() - started > 3600:
                break
            time.sleep(0.25)
        end_to_end_s = time.perf_counter() - started
        # Search vectors trail a burst by design; the classifier is timed
        # alone only once they have caught up, so nothing else runs then.
        caught_up = _wait_for_search(config, stored)
        search_trail_s = caught_up - (started + end_to_end_s)
        sampler.stopped.set()
        sampler.join()

        status = collect_status(state, config)
        texts = [model_text(parse_message(m.data)) for m in messages]
        in_flight = config.pipeline.batch_size * ClassifyStage.concurrency
        classifier_msg_s = _classifier_rate(state, texts, workdir, in_flight)
    return {
        "sent": summary.sent,
        "refused": len(summary.refused),
        "stored": stored,
        "send_s": sent_s,
        "end_to_end_s": end_to_end_s,
        "end_to_end_msg_s": stored / end_to_end_s,
        "classifier_msg_s": classifier_msg_s,
        "search_trail_s": search_trail_s,
        "idle_bytes": idle_bytes,
        "peak_bytes": sampler.peak_bytes,
        "stages": status["stages"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="200 messages, for CI")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args(argv)
    limit = args.limit or (200 if args.small else None)

    messages = _messages(args.corpus, limit)
    workdir = Path(tempfile.mkdtemp(prefix="mailray-pipeline-"))
    try:
        r = run(messages, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    ratio = r["end_to_end_msg_s"] / r["classifier_msg_s"]
    gib = 1024**3
    print(f"pipeline: {r['sent']} sent, {r['refused']} refused, {r['stored']} stored")
    print(
        f"pipeline: end to end {r['end_to_end_msg_s']:.1f} msg/s "
        f"({r['end_to_end_s']:.1f}s; SMTP done after {r['send_s']:.1f}s)"
    )
    print(
        f"pipeline: classifier alone {r['classifier_msg_s']:.1f} msg/s; "
        f"ratio {ratio:.0%} (target >= {TARGET_RATIO:.0%})"
    )
    print(
        f"pipeline: search vectors caught up {r['search_trail_s']:.1f}s "
        "after the last row (indexing waits while mail is queued)"
    )
    (idle, idle_rss), (peak, peak_rss) = r["idle_bytes"], r["peak_bytes"]
    print(
        f"pipeline: memory idle {idle / gib:.2f} GiB, "
        f"peak under load and search catch-up {peak / gib:.2f} GiB "
        f"(target < {TARGET_MEMORY_BYTES / gib:.0f} GiB; sum of PSS; "
        f"sum of RSS {idle_rss / gib:.2f} and {peak_rss / gib:.2f} GiB)"
    )
    for name, stats in sorted(r["stages"].items()):
        if "busy_s" in stats:
            print(
                f"pipeline: stage {name:12} busy {stats['busy_s']:7.1f}s "
                f"cpu {stats['cpu_s']:7.1f}s"
            )
    return 0 if r["stored"] == r["sent"] == len(messages) else 1


if __name__ == "__main__":
    sys.exit(main())
