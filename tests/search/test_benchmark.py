"""The search benchmark runs in its small mode (CI smoke test)."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.slow


def test_search_benchmark_small_prints_latency_for_every_mode(capsys):
    from benchmarks.search import main

    assert main(["--small"]) == 0
    out = capsys.readouterr().out
    assert "3,000 rows written" in out
    assert "('create_ann',)" in out
    for index in ("flat vectors", "IVF_PQ"):
        for mode in ("vector", "text", "hybrid"):
            line = re.search(rf"{index}\s+{mode}\s+p50\s+([\d.]+) ms\s+p99", out)
            assert line, f"no {index} {mode} figures in:\n{out}"
            assert float(line.group(1)) > 0
