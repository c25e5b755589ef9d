"""Timed outages of the Pub/Sub service's unary calls, for fault injection.

A real ``api.pubsub.salesforce.com`` can answer any call with UNAVAILABLE while it
restarts or sheds load; tests arm an outage of a named RPC (``GetSchema``) for some
seconds and every call of it in that window fails as the service would.
"""

from __future__ import annotations

import threading
import time


class UnaryOutages:
    """RPC name → monotonic deadline until which its calls fail."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until: dict[str, float] = {}
        self.refused: dict[str, int] = {}

    def start(self, method: str, duration_s: float) -> None:
        with self._lock:
            self._until[method] = time.monotonic() + duration_s

    def refuses(self, method: str) -> bool:
        """True (and counted) when ``method`` is inside an armed outage window."""
        with self._lock:
            if time.monotonic() >= self._until.get(method, 0.0):
                return False
            self.refused[method] = self.refused.get(method, 0) + 1
            return True
