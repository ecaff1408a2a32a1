"""Login flood protection: a pure record of failures against a clock."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class LoginGuard:
    """Counts failed logins per (peer host, user name) in a sliding window.

    After ``max_failures`` within ``window_s`` the pair is refused without
    checking the password until the window has passed. Each failure also
    earns a delay before the NO, growing with the count.
    """

    max_failures: int
    window_s: float = 60.0
    base_delay_s: float = 1.0
    max_delay_s: float = 8.0
    clock: Callable[[], float] = time.monotonic
    _failures: dict[tuple[str, str], deque[float]] = field(default_factory=dict)

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        horizon = self.clock() - self.window_s
        while times and times[0] < horizon:
            times.popleft()
        if not times:
            del self._failures[key]
            return deque()
        return times

    def locked_for_s(self, host: str, user: str) -> float:
        """Seconds until this pair may try again; 0 when it may now."""
        times = self._recent((host, user.lower()))
        if len(times) < self.max_failures:
            return 0.0
        return max(0.0, times[-self.max_failures] + self.window_s - self.clock())

    def failed(self, host: str, user: str) -> float:
        """Record a failure; returns the delay to wait before answering."""
        key = (host, user.lower())
        times = self._failures.setdefault(key, deque())
        times.append(self.clock())
        count = len(self._recent(key))
        return min(self.max_delay_s, self.base_delay_s * 2 ** max(0, count - 1))

    def succeeded(self, host: str, user: str) -> None:
        self._failures.pop((host, user.lower()), None)
