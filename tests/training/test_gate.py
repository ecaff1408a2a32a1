"""The gate's decision, as a table."""

from __future__ import annotations

import math

import pytest

from training.gate import GatePolicy, SetScore, decide, log_loss, set_score

POLICY = GatePolicy(
    max_fpr_increase=0.01,
    max_recall_drop=0.02,
    max_feedback_accuracy_drop=0.0,
    min_feedback=5,
)
GOOD = SetScore(n=100, fpr=0.01, recall=0.90, accuracy=0.94)


def score(fpr=0.01, recall=0.90, accuracy=0.94, n=100, log_loss=0.2) -> SetScore:
    return SetScore(n=n, fpr=fpr, recall=recall, accuracy=accuracy, log_loss=log_loss)


@pytest.mark.parametrize(
    ("case", "stable_eval", "cand_eval", "stable_fb", "cand_fb", "passed", "words"),
    [
        ("equal everywhere", GOOD, GOOD, score(), score(), True, "eval fpr"),
        ("fpr within tolerance", GOOD, score(fpr=0.02), None, None, True, "eval"),
        ("fpr beyond tolerance", GOOD, score(fpr=0.03), None, None, False, "FPR"),
        ("recall drop beyond", GOOD, score(recall=0.85), None, None, False, "recall"),
        ("recall drop within", GOOD, score(recall=0.89), None, None, True, "eval"),
        (
            "worse on held-out feedback",
            GOOD,
            GOOD,
            score(accuracy=0.8, n=10),
            score(accuracy=0.5, n=10),
            False,
            "held-out",
        ),
        (
            "better on held-out feedback",
            GOOD,
            GOOD,
            score(accuracy=0.5, n=10),
            score(accuracy=1.0, n=10),
            True,
            "held-out",
        ),
        (
            "same labels, scores drifting the wrong way",
            GOOD,
            GOOD,
            score(accuracy=0.5, n=10, log_loss=0.9),
            score(accuracy=0.5, n=10, log_loss=1.4),
            False,
            "log loss",
        ),
        (
            "log loss within tolerance",
            GOOD,
            GOOD,
            score(accuracy=0.5, n=10, log_loss=0.9),
            score(accuracy=0.5, n=10, log_loss=0.93),
            True,
            "held-out",
        ),
        (
            "no eval set, enough feedback",
            None,
            None,
            score(accuracy=0.5, n=6),
            score(accuracy=1.0, n=6),
            True,
            "held-out",
        ),
        (
            "no eval set, too little feedback",
            None,
            None,
            score(accuracy=0.5, n=4),
            score(accuracy=1.0, n=4),
            False,
            "only 4 of 5",
        ),
        ("no evidence at all", None, None, None, None, False, "only 0 of 5"),
    ],
)
def test_gate_decision_table(
    case, stable_eval, cand_eval, stable_fb, cand_fb, passed, words
):
    decision = decide(POLICY, stable_eval, cand_eval, stable_fb, cand_fb)
    assert decision.passed is passed, case
    assert words in decision.reason, (case, decision.reason)


def test_set_score_counts_errors_at_the_threshold():
    figures = set_score([0, 0, 1, 1], [0.1, 0.9, 0.8, 0.2], threshold=0.5)
    assert (figures.n, figures.fpr, figures.recall, figures.accuracy) == (
        4,
        0.5,
        0.5,
        0.5,
    )
    # -(ln 0.9 + ln 0.1 + ln 0.8 + ln 0.2) / 4
    assert figures.log_loss == pytest.approx(1.0601, abs=1e-4)


def test_log_loss_is_finite_for_confident_mistakes():
    assert log_loss([1, 0], [0.0, 1.0]) == pytest.approx(-math.log(1e-6))
    assert log_loss([], []) == 0.0
