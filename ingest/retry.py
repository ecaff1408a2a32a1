"""Pure retry decisions for pipeline stages, tested with tables."""

from __future__ import annotations

from dataclasses import dataclass

MAX_BACKOFF_S = 60.0


def backoff_s(attempt: int, base_s: float, cap_s: float = MAX_BACKOFF_S) -> float:
    """Delay before retry number ``attempt`` (1 = first retry): doubling, capped."""
    if attempt < 1:
        raise ValueError(f"attempt must be >= 1, got {attempt}")
    return min(cap_s, base_s * 2 ** (attempt - 1))


@dataclass(frozen=True, slots=True)
class RetryDecision:
    dead_letter: bool
    delay_s: float


def after_failure(attempts: int, max_attempts: int, base_s: float) -> RetryDecision:
    """What to do after a message has failed ``attempts`` times in a stage."""
    if attempts >= max_attempts:
        return RetryDecision(dead_letter=True, delay_s=0.0)
    return RetryDecision(dead_letter=False, delay_s=backoff_s(attempts, base_s))
