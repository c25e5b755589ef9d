"""Which Stripe objects the billing writeback has read, and when, to skip events it has seen.

The writeback writes the objects' current state, never an event's snapshot. So once it has
read an object (and its write succeeded), every event created before that read is already
reflected in Salesforce: reading again would write the same values. Since one customer's
events run one after another (they share a key), a catch-up burst, Stripe's duplicates or a
replay would otherwise cost a round of reads per event. An event is skipped only when every
object it names was read more than ``margin_s`` after the event was created: the margin
covers the difference between Stripe's clock and ours. Bounded; the oldest entries go first,
and a new process starts empty (a replay in a new process reads everything again).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from consumer.billing.targets import Refresh

MARGIN_S = 5.0


def _ids(refresh: Refresh) -> list[str]:
    return [i for i in (refresh.subscription_id, refresh.invoice_id, refresh.customer_id) if i]


class Freshness:
    def __init__(
        self,
        capacity: int = 100_000,
        margin_s: float = MARGIN_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._read_at: OrderedDict[str, float] = OrderedDict()
        self._capacity = capacity
        self._margin = margin_s
        self.clock = clock
        self._lock = threading.Lock()

    def covers(self, refresh: Refresh, created: float) -> bool:
        """True when a read made after ``created`` (plus the margin) saw every object."""
        ids = _ids(refresh)
        with self._lock:
            return bool(ids) and all(
                self._read_at.get(i, float("-inf")) >= created + self._margin for i in ids
            )

    def note(self, refresh: Refresh, read_at: float) -> None:
        with self._lock:
            for object_id in _ids(refresh):
                self._read_at[object_id] = max(read_at, self._read_at.get(object_id, read_at))
                self._read_at.move_to_end(object_id)
            while len(self._read_at) > self._capacity:
                self._read_at.popitem(last=False)
