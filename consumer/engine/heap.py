"""Keeping a process's startup heap out of the garbage collector's full passes.

Every message in flight is a ``Message``, a tuple subclass, which the cyclic
collector never untracks; a few thousand of them at any time keep promoting
objects to its oldest generation, and that triggers full collections, each
walking every object of the process (imported libraries included): tens of
milliseconds every few tens of thousands of messages, a fifth or more of a
fast handler's time. Frozen (``gc.freeze``), what the process built before the
engine started is left out of those passes, which then cost about what is in flight.

Freezing is process-wide, so engines running side by side (two members in a
test, or two consumers in one process) share it: the first to start freezes,
each later one freezes what was built since, and the heap thaws when the last
one stops, so garbage made before it is collectable again.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_holders = 0


@contextlib.contextmanager
def startup_heap_frozen(enabled: bool = True) -> Iterator[None]:
    global _holders
    if not enabled:
        yield
        return
    with _lock:
        _holders += 1
        gc.freeze()
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if not _holders:
                gc.unfreeze()
