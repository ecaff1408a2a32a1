"""The classifier benchmark runs end to end in its small mode."""

from __future__ import annotations

import pytest

from benchmarks import classifier as bench


@pytest.mark.ray
@pytest.mark.slow
def test_benchmark_small_mode_measures_raw_handle_and_http(serve_http_port):
    result = bench.run(count=24, concurrency=8, http_port=serve_http_port)
    printed = bench.report(result)

    assert result["raw_per_s"] > 0
    assert result["raw_sorted_per_s"] > 0
    assert result["handle_per_s"] > 0
    assert result["http_per_s"] > 0
    assert result["handle_p99_ms"] >= result["handle_p50_ms"]
    assert "serve/raw: handle" in printed
    assert "arrival order" in printed
