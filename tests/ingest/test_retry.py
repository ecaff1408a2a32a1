import pytest

from ingest.retry import after_failure, backoff_s


@pytest.mark.parametrize(
    ("attempt", "base_s", "expected"),
    [(1, 0.5, 0.5), (2, 0.5, 1.0), (4, 0.5, 4.0), (20, 0.5, 60.0)],
)
def test_backoff_doubles_and_is_capped(attempt, base_s, expected):
    assert backoff_s(attempt, base_s) == expected


def test_backoff_rejects_attempt_zero():
    with pytest.raises(ValueError, match="attempt"):
        backoff_s(0, 1.0)


@pytest.mark.parametrize(
    ("attempts", "max_attempts", "dead", "delay_s"),
    [(1, 3, False, 0.5), (2, 3, False, 1.0), (3, 3, True, 0.0), (5, 3, True, 0.0)],
)
def test_after_failure_dead_letters_at_max_attempts(
    attempts, max_attempts, dead, delay_s
):
    decision = after_failure(attempts, max_attempts, 0.5)
    assert decision.dead_letter is dead
    assert decision.delay_s == delay_s
