"""Event ids already produced, so a webhook retry, a catch-up overlap or a restart does not
put one event on the topic twice. Bounded: the oldest ids are forgotten first (the window
only has to cover the catch-up overlap and Stripe's retries; the consumer is idempotent
beyond it)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable


class SeenEvents:
    def __init__(self, capacity: int = 200_000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def claim(self, event_id: str) -> bool:
        """True the first time ``event_id`` is claimed (the caller produces it)."""
        with self._lock:
            if event_id in self._ids:
                return False
            self._ids[event_id] = None
            if len(self._ids) > self._capacity:
                self._ids.popitem(last=False)
            return True

    def release(self, event_id: str) -> None:
        """Forget a claim whose produce failed, so the next delivery tries again."""
        with self._lock:
            self._ids.pop(event_id, None)

    def add_all(self, event_ids: Iterable[str]) -> None:
        for event_id in event_ids:
            self.claim(event_id)
