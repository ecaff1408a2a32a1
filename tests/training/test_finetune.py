"""Warm start from a version's adapters; the training mix."""

from __future__ import annotations

import json

import torch

from serve.network import (
    SPEC_FILE,
    WEIGHTS_FILE,
    NetworkSpec,
    build_network,
    load_network,
)
from storage.registry import BUNDLED_DIR, bundled_versions
from training.finetune import load_trainable, training_rows
from training.labelled import LabelledText


def test_warm_start_reproduces_the_parent_version():
    from safetensors.torch import load_file

    folder = BUNDLED_DIR / bundled_versions()[-1]
    spec = NetworkSpec.from_json(json.loads((folder / SPEC_FILE).read_text()))
    fresh = build_network(spec, seed=1).eval()
    load_trainable(fresh, load_file(str(folder / WEIGHTS_FILE)))
    parent, _ = load_network(folder)

    ids = torch.tensor([[101, 7592, 2088, 2003, 1037, 3231, 102]])
    mask = torch.ones_like(ids)
    with torch.inference_mode():
        assert torch.allclose(fresh(ids, mask), parent(ids, mask), atol=1e-4)


def test_training_rows_weight_feedback_and_sample_replay():
    feedback = [LabelledText("q1", "a", 1), LabelledText("q2", "b", 0)]
    replay = [LabelledText(f"r{i}", "c", i % 2) for i in range(10)]
    rows = training_rows(feedback, replay, feedback_weight=3, replay_size=4, seed=0)
    assert len(rows) == 2 * 3 + 4
    assert sum(r.key == "q1" for r in rows) == 3
    assert len({r.key for r in rows if r.key.startswith("r")}) == 4
    assert rows == training_rows(feedback, replay, 3, 4, seed=0)


def test_replay_trains_towards_the_teachers_scores_and_feedback_its_labels():
    feedback = [LabelledText("q1", "a", 1), LabelledText("q2", "b", 0)]
    replay = [LabelledText(f"r{i}", f"text {i}", i % 2) for i in range(10)]
    asked: list[list[str]] = []

    def teacher(texts: list[str]) -> list[float]:
        asked.append(texts)
        return [0.25 if text.endswith(("0", "2", "4")) else 0.75 for text in texts]

    rows = training_rows(feedback, replay, 2, replay_size=6, seed=1, teacher=teacher)

    assert len(asked) == 1 and len(asked[0]) == 6  # one call, the sample only
    replayed = [r for r in rows if r.key.startswith("r")]
    assert {r.target for r in replayed} <= {0.25, 0.75}
    assert all(r.target == (0.25 if r.text[-1] in "024" else 0.75) for r in replayed)
    assert all(r.target is None for r in rows if r.key.startswith("q"))
    # The same sample as without a teacher: distillation changes targets only.
    plain = training_rows(feedback, replay, 2, replay_size=6, seed=1)
    assert [(r.key, r.label) for r in rows] == [(r.key, r.label) for r in plain]
