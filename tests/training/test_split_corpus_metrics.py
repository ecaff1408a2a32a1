"""The split rule, corpus walking and the metrics, as tables."""

from __future__ import annotations

import hashlib
import pickle

import pytest

from training.corpus import content_hash, label_of_folder, select, walk_corpus
from training.errors import CorpusError
from training.metrics import (
    confusion,
    pick_threshold,
    report,
    resolves_fpr,
    threshold_table,
)
from training.split import split_of


def _bucket(name: str) -> int:
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % 5


@pytest.mark.parametrize(
    "name",
    ["00001.7c53336b37003a9286aba55d2945844c", "a", "ü.eml", "x" * 300],
)
def test_split_follows_the_hash_rule(name):
    expected = {0: "test", 1: "validation"}.get(_bucket(name), "train")

    assert split_of(name) == expected


def test_split_shares_are_roughly_one_fifth_each():
    splits = [split_of(f"{i:05d}.msg") for i in range(5000)]

    assert 850 < splits.count("test") < 1150
    assert 850 < splits.count("validation") < 1150


def test_split_rejects_a_path():
    with pytest.raises(ValueError, match="basename"):
        split_of("spam/00001")


@pytest.mark.parametrize(
    ("folder", "label"),
    [
        ("ham", 0),
        ("easy_ham", 0),
        ("easy_ham_2", 0),
        ("hard_ham", 0),
        ("spam", 1),
        ("spam_2", 1),
        ("other", None),
    ],
)
def test_label_of_folder_table(folder, label):
    assert label_of_folder(folder) == label


def test_walk_corpus_labels_and_hashes_content(tmp_path):
    for folder, names in {"ham": ["a", "b"], "spam": ["c"], "notes": ["d"]}.items():
        (tmp_path / folder).mkdir()
        for name in names:
            (tmp_path / folder / name).write_bytes(name.encode())

    examples = walk_corpus(tmp_path)
    before = content_hash(examples)
    (tmp_path / "ham" / "a").write_bytes(b"changed")

    assert [(e.path.name, e.label) for e in examples] == [("a", 0), ("b", 0), ("c", 1)]
    assert content_hash(examples) != before
    assert len(select(examples, "all")) == 3


def test_walk_corpus_without_both_labels_fails_with_the_path(tmp_path):
    (tmp_path / "ham").mkdir()
    (tmp_path / "ham" / "a").write_bytes(b"x")

    with pytest.raises(CorpusError, match="both ham and spam") as caught:
        walk_corpus(tmp_path)

    again = pickle.loads(pickle.dumps(caught.value))
    assert (again.path, again.reason) == (str(tmp_path), caught.value.reason)


LABELS = [0, 0, 0, 0, 1, 1, 1, 1]
SCORES = [0.1, 0.2, 0.6, 0.3, 0.9, 0.8, 0.4, 0.95]


@pytest.mark.parametrize(
    ("threshold", "tp", "fp", "tn", "fn"),
    [(0.5, 3, 1, 3, 1), (0.0, 4, 4, 0, 0), (0.7, 3, 0, 4, 1), (1.0, 0, 0, 4, 4)],
)
def test_confusion_table(threshold, tp, fp, tn, fn):
    c = confusion(LABELS, SCORES, threshold)

    assert (c.tp, c.fp, c.tn, c.fn) == (tp, fp, tn, fn)


def test_report_values():
    r = report(LABELS, SCORES, 0.5)

    assert r.n == 8
    assert r.precision == pytest.approx(0.75)
    assert r.recall == pytest.approx(0.75)
    assert r.f1 == pytest.approx(0.75)
    assert r.fpr == pytest.approx(0.25)
    assert r.roc_auc == pytest.approx(15 / 16)


def test_report_with_one_class_has_no_auc():
    assert report([0, 0], [0.1, 0.9], 0.5).roc_auc is None


def test_threshold_table_rows_are_monotone_in_fpr():
    rows = threshold_table(LABELS, SCORES)

    fprs = [row["fpr"] for row in rows]
    assert fprs == sorted(fprs, reverse=True)


@pytest.mark.parametrize(
    ("max_fpr", "expected"),
    [(0.0, 0.7), (0.25, 0.5)],
)
def test_pick_threshold_is_lowest_meeting_the_fpr_bound(max_fpr, expected):
    assert pick_threshold(LABELS, SCORES, max_fpr=max_fpr) == pytest.approx(expected)


def test_pick_threshold_never_goes_below_the_floor():
    assert pick_threshold([0, 1], [0.01, 0.02], floor=0.5) == 0.5


def test_pick_threshold_rejects_a_bad_bound():
    with pytest.raises(ValueError, match="max_fpr"):
        pick_threshold([0, 1], [0.1, 0.9], max_fpr=1.5)


@pytest.mark.parametrize(
    ("ham", "spam", "max_fpr", "resolves"),
    [
        (500, 10, 0.002, True),  # one false positive is exactly 0.2 %
        (499, 10, 0.002, False),
        (80, 40, 0.002, False),  # a small snapshot: only "none" is measurable
        (80, 40, 0.02, True),
        (0, 40, 0.5, False),
        (900, 0, 0.0, False),  # a zero bound cannot be measured on any set
    ],
)
def test_a_threshold_is_fitted_only_where_the_set_resolves_the_fpr_bound(
    ham, spam, max_fpr, resolves
):
    assert resolves_fpr([0] * ham + [1] * spam, max_fpr) is resolves
