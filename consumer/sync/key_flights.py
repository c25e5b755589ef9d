"""Concurrent lookups of overlapping keys: each key is asked of Stripe by one caller at a time.

When a process starts (or a burst of new orders arrives), every batch misses the same
pricebook prices and products at the same moment: 32 batches sent 30 ``prices.list
(lookup_keys=…)`` and 30 ``products.list(ids=…)`` for the same dozen keys, which took most of
the first second of a 200-order run. ``KeyFlights.claim`` hands a caller the keys nobody is
asking for (to ask for itself, chunked as it likes) and the keys another caller is asking for
right now; ``wait`` waits for those and returns the ones whose caller failed, to ask again.
The others' answers are read from the directory's memory, where their caller put them.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager


class _Flight:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.answered = False


class KeyFlights:
    """Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[str, _Flight] = {}

    @contextmanager
    def claim(self, keys: Collection[str]) -> Iterator[tuple[list[str], dict[str, _Flight]]]:
        """(the keys to ask for, the others' flights for the rest). The keys count as
        answered if the block ends without an exception."""
        mine: list[str] = []
        theirs: dict[str, _Flight] = {}
        with self._lock:
            for key in keys:
                flight = self._flights.get(key)
                if flight is None:
                    self._flights[key] = _Flight()
                    mine.append(key)
                else:
                    theirs[key] = flight
        answered = False
        try:
            yield mine, theirs
            answered = True
        finally:
            with self._lock:
                for key in mine:
                    flight = self._flights.pop(key)
                    flight.answered = answered
                    flight.done.set()

    @staticmethod
    def wait(flights: Mapping[str, _Flight]) -> list[str]:
        """Wait for the others' flights; the keys left unanswered (their caller failed)."""
        unanswered = []
        for key, flight in flights.items():
            flight.done.wait()
            if not flight.answered:
                unanswered.append(key)
        return unanswered
