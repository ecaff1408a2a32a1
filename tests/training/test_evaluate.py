"""mailray eval on the fixture corpus with the bundled model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from storage.registry import ModelRegistry, bundled_versions
from storage.root import StorageRoot
from training.evaluate import evaluate

CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "tiny-corpus"
REQUIRED_KEYS = {"n", "precision", "recall", "f1", "fpr", "roc_auc", "threshold"}


@pytest.fixture
def registry(tmp_path) -> ModelRegistry:
    return ModelRegistry(StorageRoot(url=str(tmp_path / "store")))


@pytest.mark.slow
def test_eval_json_has_the_documented_keys_and_writes_curves(tmp_path, monkeypatch):
    from cluster.cli import _register_all, app

    _register_all()
    monkeypatch.setenv("MAILRAY_STORAGE_ROOT", str(tmp_path / "store"))
    plot = tmp_path / "curves.png"

    result = CliRunner().invoke(
        app,
        [
            "eval",
            "--corpus",
            str(CORPUS),
            "--split",
            "all",
            "--json",
            "--plot",
            str(plot),
        ],
    )

    assert result.exit_code == 0, result.output
    body = json.loads(result.output.strip().splitlines()[-1])
    assert REQUIRED_KEYS | {"model_version"} <= body.keys()
    assert body["n"] == 24
    assert body["model_version"] == bundled_versions()[-1]
    assert plot.read_bytes().startswith(b"\x89PNG")


@pytest.mark.peer
@pytest.mark.slow
def test_bogofilter_baseline_is_scored_side_by_side(registry):
    if shutil.which("bogofilter") is None:
        pytest.skip("bogofilter is not installed (make peers)")

    outcome = evaluate(registry, CORPUS, split="all", baseline="bogofilter")

    assert outcome.baseline is not None
    assert outcome.baseline.keys() >= REQUIRED_KEYS
    assert outcome.baseline["n"] == outcome.report.n == 24


@pytest.mark.slow
def test_one_folder_alone_gives_an_fpr(registry):
    outcome = evaluate(registry, CORPUS, split="all", groups=["ham"])

    assert outcome.report.n == 12
    assert outcome.report.tp + outcome.report.fn == 0
    assert 0.0 <= outcome.report.fpr <= 1.0


def test_unknown_baseline_is_refused(registry):
    with pytest.raises(ValueError, match="baseline"):
        evaluate(registry, CORPUS, baseline="spamassassin")
