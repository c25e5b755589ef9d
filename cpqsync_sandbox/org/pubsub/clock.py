"""A wall clock that tests can move forward.

Replay-id retention is 72 hours on a real org; tests cannot wait that long, so the bus reads
time from this clock and :meth:`SimulatedClock.advance` jumps it ahead.
"""

from __future__ import annotations

import threading
import time


class SimulatedClock:
    """Real time plus an offset that only ever grows."""

    def __init__(self) -> None:
        self._offset_s = 0.0
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        with self._lock:
            return int((time.time() + self._offset_s) * 1000)

    def advance(self, hours: float) -> None:
        if hours < 0:
            raise ValueError(f"the clock only moves forward; got {hours} hours")
        with self._lock:
            self._offset_s += hours * 3600.0
