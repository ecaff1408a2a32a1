"""Pure decisions of the classifier: labels at the threshold, size checks."""

from __future__ import annotations

import pickle

import pytest

from cluster.config import ClassifierConfig
from serve.classifier import batch_concurrency, check_size, verdict_for
from serve.errors import BadMessageError
from serve.model import length_batches, resolve_dtype


@pytest.mark.parametrize(
    ("score", "threshold", "label"),
    [(0.9, 0.8, "spam"), (0.8, 0.8, "spam"), (0.79, 0.8, "ham"), (0.0, 0.5, "ham")],
)
def test_label_compares_score_with_threshold(score, threshold, label):
    verdict = verdict_for(score, "v1", threshold)

    assert (verdict.label, verdict.model_version, verdict.threshold) == (
        label,
        "v1",
        threshold,
    )
    assert verdict.reasons


@pytest.mark.parametrize(
    ("raw", "status"),
    [(b"", 400), (b"x" * 11, 413), ("text", 400)],
)
def test_check_size_refuses_with_a_status(raw, status):
    with pytest.raises(BadMessageError) as caught:
        check_size(raw, max_bytes=10)

    assert caught.value.status == status
    assert pickle.loads(pickle.dumps(caught.value)).status == status


def test_check_size_accepts_a_message_within_the_limit():
    check_size(b"x" * 10, max_bytes=10)


@pytest.mark.parametrize(
    ("requested", "device", "native_bf16", "chosen"),
    [
        ("auto", "cpu", True, "bf16"),
        ("auto", "cpu", False, "int8"),
        ("auto", "cuda", False, "bf16"),
        ("fp32", "cpu", True, "fp32"),
        ("int8", "cpu", True, "int8"),
    ],
)
def test_resolve_dtype_table(requested, device, native_bf16, chosen):
    assert resolve_dtype(requested, device, native_bf16) == chosen


def test_resolve_dtype_rejects_unknown():
    with pytest.raises(ValueError, match="dtype"):
        resolve_dtype("fp8")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "lengths, max_texts, max_tokens, batches",
    [
        ([], 4, 100, []),
        ([5, 1, 3], 4, 100, [[1, 2, 0]]),
        ([5, 1, 3, 2], 2, 100, [[1, 3], [2, 0]]),
        # Two texts of 256 exceed 300 tokens: the long one goes alone.
        ([10, 256, 12], 8, 300, [[0, 2], [1]]),
        # Longer than the whole budget: still scored, in a batch of its own.
        ([500, 4], 8, 100, [[1], [0]]),
        ([50] * 5, 8, 100, [[0, 1], [2, 3], [4]]),
    ],
)
def test_length_batches_table(lengths, max_texts, max_tokens, batches):
    assert length_batches(lengths, max_texts, max_tokens) == batches


def test_length_batches_rejects_empty_budgets():
    with pytest.raises(ValueError):
        length_batches([1], 0, 10)


@pytest.mark.parametrize(
    ("fields", "cores", "expected"),
    [
        ({}, 2, 2),  # one single-thread batch per core
        ({}, 1, 1),
        ({}, 16, 8),  # 256 ongoing requests fill eight batches of 32
        ({"max_ongoing_requests": 64}, 16, 2),
        ({"max_ongoing_requests": 512}, 16, 16),
        ({"torch_threads": 2}, 8, 4),
        ({"torch_threads": 0}, 8, 1),  # one batch on every core
        ({"torch_threads": 4}, 2, 1),  # more threads than cores: still one
        ({"concurrent_batches": 3}, 2, 3),  # as configured
    ],
)
def test_batch_concurrency_fills_the_cores(fields, cores, expected):
    settings = ClassifierConfig(**fields)

    assert batch_concurrency(settings, cores) == expected
