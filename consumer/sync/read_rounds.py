"""Concurrent reads of keys merged into a few round trips (a group commit for reads).

When a burst starts, the root stage's workers each take the first few messages that arrive,
and each hydrates its own tiny batch: 3 members x 32 workers sent 96 hydrations of one to five
orders at once, four or five Salesforce queries each, where one query of 96 orders costs
about what one of one order does. Every one of those reads counts against the org's API
limits, and against the org simulator (which serves them in the benchmark's own process) they
took 2.3 s together, all finishing at once, so no Stripe request went out before then.

``ReadRounds.get`` runs at most ``rounds`` reads at a time: a caller arriving while they all
run waits, and the next free round reads the keys of everyone waiting at once (up to
``max_keys``). A caller that finds a round free reads at once, alone, so a lone read (a
trickle of orders) waits for nothing. A merged round that fails is not blamed on its
callers' keys together: each caller then reads its own keys alone and gets its own answer or
its own error, exactly as without merging.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


@dataclass(eq=False)
class _Ask(Generic[K, V]):
    keys: list[K]
    answer: dict[K, V] | None = None
    merged_failure: bool = False  # its round failed with others' keys in it
    taken: bool = False  # a round is reading its keys
    done: bool = field(default=False)


class ReadRounds(Generic[K, V]):
    """Thread-safe. ``read(keys)`` answers the keys it found (absent: not found)."""

    def __init__(
        self, read: Callable[[list[K]], Mapping[K, V]], *, rounds: int = 2, max_keys: int = 200
    ) -> None:
        if rounds < 1 or max_keys < 1:
            raise ValueError("rounds and max_keys must be at least 1")
        self._read = read
        self._rounds = rounds
        self._max_keys = max_keys
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._waiting: list[_Ask[K, V]] = []
        self._running = 0
        self.reads = 0  # round trips made (merged rounds and solo re-reads)

    @property
    def waiting(self) -> int:
        """Callers waiting for a round."""
        with self._lock:
            return len(self._waiting)

    def get(self, keys: Collection[K]) -> dict[K, V]:
        ask: _Ask[K, V] = _Ask(list(dict.fromkeys(keys)))
        if not ask.keys:
            return {}
        with self._lock:
            self._waiting.append(ask)
            while not ask.done:
                # An ask another caller's round took waits for that round, even when a
                # round frees meanwhile: reading its keys twice would only cost the org.
                if not ask.taken and self._running < self._rounds:
                    taken = self._take(ask)
                    self._running += 1
                    self._changed.release()
                    try:
                        self._run(taken)
                    finally:
                        self._changed.acquire()
                        self._running -= 1
                        self._changed.notify_all()
                else:
                    self._changed.wait()
        if ask.merged_failure:
            return self._solo(ask.keys)
        assert ask.answer is not None
        return ask.answer

    def _take(self, own: _Ask[K, V]) -> list[_Ask[K, V]]:
        """``own`` and the longest-waiting others, while their keys fit in one round."""
        taken = [own]
        keys = len(own.keys)
        for ask in self._waiting:
            if ask is not own and keys + len(ask.keys) <= self._max_keys:
                taken.append(ask)
                keys += len(ask.keys)
        self._waiting = [ask for ask in self._waiting if ask not in taken]
        for ask in taken:
            ask.taken = True
        return taken

    def _run(self, asks: list[_Ask[K, V]]) -> None:
        keys = list(dict.fromkeys(key for ask in asks for key in ask.keys))
        try:
            found = self._solo(keys)
        except BaseException:
            if len(asks) == 1:
                self._finish(asks)
                raise
            for ask in asks:
                ask.merged_failure = True
            self._finish(asks)
            return
        given: set[K] = set()
        for ask in asks:
            answer: dict[K, V] = {}
            for key in ask.keys:
                if key in found:
                    # Two callers never share one mutable answer.
                    answer[key] = copy.deepcopy(found[key]) if key in given else found[key]
                    given.add(key)
            ask.answer = answer
        self._finish(asks)

    def _finish(self, asks: list[_Ask[K, V]]) -> None:
        with self._lock:
            for ask in asks:
                ask.done = True

    def _solo(self, keys: list[K]) -> dict[K, V]:
        with self._lock:
            self.reads += 1
        return dict(self._read(keys))
