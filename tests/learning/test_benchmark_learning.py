"""The learning benchmark runs from trigger to promotion in its small mode."""

from __future__ import annotations

import pytest

from benchmarks import learning as bench

pytestmark = [pytest.mark.slow, pytest.mark.ray]


def test_benchmark_small_mode_reports_every_stage(ray_local):
    result = bench.run(small=True, timeout_s=900)
    printed = bench.report(result)

    for stage in ("wait_s", "train_s", "gate_s", "canary_s"):
        assert result[stage] >= 0, stage
    assert result["total_s"] >= result["train_s"] + result["canary_s"]
    assert "canary" in printed and "total" in printed
