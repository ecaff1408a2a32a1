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
