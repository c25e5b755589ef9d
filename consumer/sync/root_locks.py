"""One sync of a root at a time per process.

The engine never runs two messages with the same key at once, but different keys can lead to
the same root (an Order event and an OrderItem event both lead to the order). Two workers
planning one order from slightly different snapshots would send different idempotency keys
and could create two schedules, so a worker holds the locks of all its roots, taken in sorted
order (no deadlock), from hydration to the last Stripe call.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any


class RootLocks:
    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[object, tuple[threading.Lock, int]] = {}

    @contextmanager
    def holding(self, keys: Iterable[Any]) -> Iterator[None]:
        ordered = sorted(set(keys))
        taken: list[object] = []
        try:
            for key in ordered:
                self._acquire(key)
                taken.append(key)
            yield
        finally:
            for key in reversed(taken):
                self._release(key)

    def _acquire(self, key: object) -> None:
        with self._guard:
            lock, users = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lock, users + 1)
        lock.acquire()

    def _release(self, key: object) -> None:
        with self._guard:
            lock, users = self._locks[key]
            lock.release()
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)
