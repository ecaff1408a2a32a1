"""The benchmarks run in their small mode (CI smoke tests)."""

from __future__ import annotations

import re
import shutil

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.ray]


@pytest.mark.peer
def test_ingest_benchmark_small_accepts_every_message(capsys):
    if shutil.which("smtp-source") is None:
        pytest.skip("smtp-source (Postfix) is not installed; run make peers")
    from benchmarks.ingest import main

    assert main(["--small"]) == 0
    out = capsys.readouterr().out
    assert "ingest: 200/200 accepted" in out
    assert "msg/s" in out


def test_pipeline_benchmark_small_stores_every_message(capsys):
    from benchmarks.pipeline import main

    assert main(["--small"]) == 0
    out = capsys.readouterr().out
    # 200 corpus messages, or the fixtures' 100 where the corpus is absent.
    sent = re.search(r"pipeline: (\d+) sent, 0 refused, (\d+) stored", out)
    assert sent and sent[1] == sent[2] and int(sent[1]) >= 100, out
    assert "classifier alone" in out and "memory idle" in out
