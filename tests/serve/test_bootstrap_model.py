"""The shipped bootstrap model does not regress on the SpamAssassin test split."""

from __future__ import annotations

import pytest

from storage.registry import ModelRegistry, bundled_versions
from storage.root import StorageRoot
from training.evaluate import evaluate

# The shipped version measured F1 0.935 and FPR 0.52 % (4 of 776 ham) at its
# operating threshold; these floors leave room for one more error either way.
# TODO(#2): the bar is F1 >= 0.97 with FPR <= 0.5 %; four spam-like
# hard_ham newsletters score above 0.996 and hold the threshold up.
MIN_F1 = 0.93
MAX_FPR = 0.0065


@pytest.mark.corpus
@pytest.mark.slow
def test_bootstrap_model_keeps_its_f1_and_fpr_on_the_test_split(spamassassin, tmp_path):
    registry = ModelRegistry(StorageRoot(url=str(tmp_path / "empty-store")))
    version = bundled_versions()[-1]

    outcome = evaluate(registry, spamassassin, version=version, split="test")

    assert outcome.report.n > 1000
    assert outcome.report.f1 >= MIN_F1, outcome.to_json()
    assert outcome.report.fpr <= MAX_FPR, outcome.to_json()
