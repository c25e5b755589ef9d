"""Subscribe flow control: how many events a client may still be sent.

Each ``FetchRequest`` adds its ``num_requested``; the outstanding total is capped at 100
(Salesforce's per-stream maximum), and every event sent uses one up. The server never sends more
than is outstanding.
"""

from __future__ import annotations

import threading

MAX_OUTSTANDING = 100


class NegativeRequestError(ValueError):
    """A FetchRequest asked for a negative number of events."""


class FlowControl:
    def __init__(self) -> None:
        self._pending = 0
        self._lock = threading.Lock()

    @property
    def pending(self) -> int:
        with self._lock:
            return self._pending

    def request(self, num_requested: int) -> None:
        if num_requested < 0:
            raise NegativeRequestError(f"num_requested must not be negative, got {num_requested}")
        with self._lock:
            self._pending = min(MAX_OUTSTANDING, self._pending + num_requested)

    def consume(self, sent: int) -> int:
        """Record ``sent`` events as delivered; returns what is still outstanding."""
        with self._lock:
            if sent > self._pending:
                raise RuntimeError(f"sent {sent} events with only {self._pending} requested")
            self._pending -= sent
            return self._pending
