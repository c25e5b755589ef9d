"""One request on the wire for identical idempotent requests: Stripe's replay, answered locally.

When a burst of new orders starts, many workers plan the same customer, product or pricebook
price create: the same idempotency key with the same parameters. Stripe answers the ones sent
while the first is running with 409, and the later ones with a replay of the first answer, so
sending them costs requests and rate budget and yields nothing new. Instead the first caller
sends the request; callers while it runs wait for its answer, and callers within ``keep_s``
seconds after it succeeded get that answer: exactly what Stripe would replay for the key (it
keeps the first answer for 24 hours). Failures are never kept, so a retry reaches Stripe.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")

KEEP_S = 60.0
MAX_KEPT = 10_000


class _Flight(Generic[T]):
    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: T | None = None
        self.error: BaseException | None = None


class SingleFlight:
    """Thread-safe. ``run(key, fn)``: ``fn()``, or the answer another call with ``key`` got."""

    def __init__(
        self,
        *,
        keep_s: float = KEEP_S,
        max_kept: int = MAX_KEPT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._keep_s = keep_s
        self._max_kept = max_kept
        self._clock = clock
        self._lock = threading.Lock()
        self._flights: dict[str, _Flight[Any]] = {}
        self._kept: OrderedDict[str, tuple[float, Any]] = OrderedDict()  # oldest first
        self.shared = 0  # calls answered without a request of their own

    def run(self, key: str, fn: Callable[[], T]) -> tuple[T, bool]:
        """(the answer, whether it was another call's rather than this call's own request)."""
        with self._lock:
            self._expire()
            kept = self._kept.get(key)
            if kept is not None:
                self.shared += 1
                result: T = kept[1]
                return result, True
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
            else:
                self.shared += 1
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            shared: T = flight.result  # type: ignore[assignment]
            return shared, True
        try:
            flight.result = fn()
        except BaseException as error:
            flight.error = error
            raise
        else:
            with self._lock:
                self._kept[key] = (self._clock(), flight.result)
                self._kept.move_to_end(key)
            return flight.result, False
        finally:
            with self._lock:
                del self._flights[key]
            flight.done.set()

    def _expire(self) -> None:
        now = self._clock()
        while self._kept:
            key, (at, _) = next(iter(self._kept.items()))
            if now - at < self._keep_s and len(self._kept) <= self._max_kept:
                break
            del self._kept[key]
