"""benchmarks/imap.py in its small mode (the CI smoke test)."""

from __future__ import annotations

import pytest

from benchmarks import imap as bench

pytestmark = [pytest.mark.slow, pytest.mark.ray]


def test_imap_benchmark_small_mode_prints_every_figure(capsys) -> None:
    assert bench.main(["--small"]) == 0
    printed = capsys.readouterr().out
    for name in (
        "select_s",
        "status_all_folders_s",
        "fetch_all_headers_s",
        "uid_search_subject_s",
        "idle_push_median_ms",
    ):
        assert name in printed
    figures = dict(line.split() for line in printed.strip().splitlines())
    assert float(figures["inbox_messages"]) == 180
    assert float(figures["uid_search_hits"]) == 20
    assert float(figures["smtp_to_idle_rounds"]) == 1
    for name in (
        "smtp_to_idle_first_ms",
        "smtp_to_idle_median_ms",
        "smtp_to_idle_max_ms",
        "smtp_250_median_ms",
    ):
        assert float(figures[name]) > 0, name
