"""Requests per second per account (API key), as Stripe enforces them: 25/s in test mode,
100/s in live mode. ``None`` turns limiting off (benchmarks, most tests)."""

from __future__ import annotations

import time
from collections import deque

STRIPE_TEST_MODE_LIMIT = 25
STRIPE_LIVE_MODE_LIMIT = 100


class RateLimiter:
    """Sliding one-second window; rejected requests do not count against the window."""

    def __init__(self, per_second: int | None = None) -> None:
        self.per_second = per_second
        self._windows: dict[str, deque[float]] = {}

    def allow(self, account: str) -> bool:
        if self.per_second is None:
            return True
        now = time.monotonic()
        window = self._windows.setdefault(account, deque())
        while window and now - window[0] >= 1.0:
            window.popleft()
        if len(window) >= self.per_second:
            return False
        window.append(now)
        return True

    def reset(self) -> None:
        self._windows.clear()
