"""Shared fixtures: the corpus, fixture messages, strict skips in CI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("MAILRAY_CORPUS", REPO.parent / "shared" / "corpus"))
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def corpus_dir(name: str) -> Path:
    """A corpus folder, or a skip that says why it is missing."""
    path = CORPUS / name
    if not path.is_dir():
        pytest.skip(f"corpus {path} is absent (it ships only to developers and CI)")
    return path


@pytest.fixture
def spamassassin() -> Path:
    return corpus_dir("spamassassin")


@pytest.fixture
def mime_torture() -> Path:
    return corpus_dir("mime-torture")


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With MAILRAY_NO_SKIPS=1 (CI), any skipped test fails the run.

    CI has the corpus and every peer program, so a skip there means a test
    silently stopped testing.
    """
    if os.environ.get("MAILRAY_NO_SKIPS") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        reporter.write_line(
            f"MAILRAY_NO_SKIPS=1: {len(skipped)} test(s) skipped; failing the run",
            red=True,
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray instance for the whole test session.

    Logical CPUs are oversubscribed on purpose: replicas, stage actors and
    Train workers each ask for a fraction, and a 2-core machine must still
    fit them all.
    """
    import ray

    ray.init(
        num_cpus=8,
        include_dashboard=False,
        configure_logging=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"TOKENIZERS_PARALLELISM": "false"}},
    )
    yield ray
    try:
        from ray import serve

        serve.shutdown()
    finally:
        ray.shutdown()


@pytest.fixture(scope="session")
def serve_http_port(ray_local) -> int:
    """Serve started once, its HTTP proxy on a free loopback port."""
    from ray import serve

    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    return port
