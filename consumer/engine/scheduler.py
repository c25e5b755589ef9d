"""Key-ordered hand-out of work to the worker threads.

Every key has a FIFO queue; only its head may be ready, waiting out a retry
delay, or running, so two messages of one key are never in flight together and
each key's messages run in the order they were fetched (offset order within a
partition). Different keys are independent: a slow or retrying key holds up only
itself, and its partition's later keys keep flowing until backpressure (bounded
by the watermark's tracked count) pauses the partition. Messages without a key
have no order to keep and each runs on its own.

All state sits behind one lock: the polling thread submits and commits, the
workers take and settle.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Hashable, Iterable, Sequence
from dataclasses import replace
from typing import Any

from consumer.engine.messages import Message, OutputMessage, PartitionId
from consumer.engine.watermark import OffsetWatermark

QUEUED, READY, DELAYED, RUNNING = range(4)


class PartitionState:
    __slots__ = ("accepting", "alive", "id", "next_fetch", "running", "watermark")

    def __init__(self, partition: PartitionId) -> None:
        self.id = partition
        self.watermark = OffsetWatermark()
        self.running = 0
        self.accepting = True  # False once revocation starts: queued work is dropped
        self.alive = True  # False once removed: late completions are ignored
        self.next_fetch: int | None = None


class Entry:
    """One message moving through the scheduler."""

    __slots__ = ("key", "message", "partition", "state")

    def __init__(self, message: Message[Any], partition: PartitionState) -> None:
        self.message = message
        self.partition = partition
        self.key: Hashable = message.key if message.key is not None else self
        self.state = QUEUED


Collected = dict[PartitionId, tuple[int, list[OutputMessage]]]


class KeyOrderedScheduler:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)  # workers wait here for ready entries
        self._settled = threading.Condition(self._lock)  # revocation waits here for running ones
        self._partitions: dict[PartitionId, PartitionState] = {}
        self._keys: dict[Hashable, deque[Entry]] = {}
        self._ready: deque[Entry] = deque()
        self._delayed: list[tuple[float, int, Entry]] = []
        self._sequence = itertools.count()
        self._running = 0
        self._idle_takers = 0
        self._closed = False
        self._completed_since_collect = 0

    # --- partitions (polling thread) -------------------------------------------------

    def assign(self, partitions: Iterable[PartitionId]) -> None:
        with self._lock:
            for partition in partitions:
                self._partitions[partition] = PartitionState(partition)

    def stop_taking(self, partitions: Collection[PartitionId]) -> None:
        """Drop not-yet-running work of ``partitions``; running work may finish and count."""
        with self._lock:
            states = {self._partitions[p] for p in partitions if p in self._partitions}
            for state in states:
                state.accepting = False
            self._drop_waiting(states)

    def wait_settled(self, partitions: Collection[PartitionId], timeout: float) -> bool:
        """Wait until nothing of ``partitions`` runs; False if ``timeout`` passed first."""
        wanted = set(partitions)
        with self._lock:
            return self._settled.wait_for(
                lambda: not any(s.running for p, s in self._partitions.items() if p in wanted),
                timeout,
            )

    def wait_drained(self, timeout: float) -> bool:
        """Wait until no message is queued, waiting to retry or running; False on timeout."""
        with self._lock:
            return self._settled.wait_for(lambda: not self._keys, timeout)

    def remove(self, partitions: Collection[PartitionId]) -> None:
        """Forget ``partitions``: queued work is dropped, late completions are ignored."""
        with self._lock:
            states: set[PartitionState] = set()
            for partition in partitions:
                state = self._partitions.pop(partition, None)
                if state is not None:
                    state.accepting = False
                    state.alive = False
                    states.add(state)
            self._drop_waiting(states)

    def assigned(self) -> list[PartitionId]:
        with self._lock:
            return list(self._partitions)

    # --- intake (polling thread) -----------------------------------------------------

    def submit(self, messages: Sequence[Message[Any]]) -> int:
        """Queue ``messages``; returns how many were accepted (others are not ours anymore)."""
        accepted = woken = 0
        with self._lock:
            partitions = self._partitions
            for message in messages:
                state = partitions.get((message.topic, message.partition))
                if state is None or not state.accepting:
                    continue
                state.watermark.track(message.offset)
                state.next_fetch = message.offset + 1
                entry = Entry(message, state)
                queue = self._keys.get(entry.key)
                if queue is None:
                    self._keys[entry.key] = deque((entry,))
                    entry.state = READY
                    self._ready.append(entry)
                    woken += 1
                else:
                    queue.append(entry)
                accepted += 1
            if woken and self._idle_takers:
                self._work.notify(min(woken, self._idle_takers))
        return accepted

    def submit_completed(self, message: Message[Any], outputs: Sequence[OutputMessage]) -> bool:
        """Track a message that needs no worker (a dead letter) as done already."""
        with self._lock:
            state = self._partitions.get((message.topic, message.partition))
            if state is None or not state.accepting:
                return False
            state.watermark.track(message.offset)
            state.watermark.complete(message.offset, outputs)
            state.next_fetch = message.offset + 1
            self._completed_since_collect += 1
            return True

    # --- workers ---------------------------------------------------------------------

    def take(self, max_size: int, timeout: float) -> list[Entry]:
        """Up to ``max_size`` ready entries of distinct keys; [] after ``timeout`` or close.

        The ready work is shared out among the idle workers, so a batch grows to
        ``max_size`` only when there is more work than workers to run it.
        """
        with self._lock:
            deadline = self._clock() + timeout
            while True:
                if self._closed:
                    return []
                now = self._clock()
                self._release_due(now)
                if self._ready:
                    break
                wait = deadline - now
                if self._delayed:
                    wait = min(wait, self._delayed[0][0] - now)
                if now >= deadline:
                    return []
                self._idle_takers += 1
                try:
                    self._work.wait(max(wait, 0.0))
                finally:
                    self._idle_takers -= 1
            ready = self._ready
            share = -(-len(ready) // (self._idle_takers + 1))
            size = max(1, min(max_size, len(ready), share))
            batch = [ready.popleft() for _ in range(size)]
            for entry in batch:
                entry.state = RUNNING
                entry.partition.running += 1
            self._running += size
            if ready and self._idle_takers:
                self._work.notify(1)
            return batch

    def complete(self, entry: Entry, outputs: Sequence[OutputMessage]) -> None:
        self.complete_many([(entry, outputs)])

    def complete_many(self, done: Sequence[tuple[Entry, Sequence[OutputMessage]]]) -> None:
        """Complete several entries under one lock (a batch's worth)."""
        with self._lock:
            for entry, outputs in done:
                state = entry.partition
                if state.alive:
                    state.watermark.complete(entry.message.offset, outputs)
                    self._completed_since_collect += 1
                self._finish_running(entry)
                self._advance_key(entry)

    def retry(self, entry: Entry, delay: float) -> None:
        """Park ``entry`` (still the head of its key) for ``delay`` seconds, then run it again."""
        with self._lock:
            self._finish_running(entry)
            if not entry.partition.accepting:
                self._advance_key(entry)  # revoked meanwhile: the next owner retries it
                return
            entry.message = replace(entry.message, attempt=entry.message.attempt + 1)
            entry.state = DELAYED
            heapq.heappush(self._delayed, (self._clock() + delay, next(self._sequence), entry))
            if self._idle_takers:
                self._work.notify(1)  # a waiting worker may need a shorter wait now

    def abandon(self, entry: Entry) -> None:
        """Stop counting ``entry`` as running without completing it: the engine is stopping.

        Its key stays blocked and its offset is never committed; the next run redoes it.
        """
        with self._lock:
            if entry.state == RUNNING:
                self._finish_running(entry)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._work.notify_all()

    # --- committing and observing (polling thread) -----------------------------------

    def collect(self, partitions: Collection[PartitionId] | None = None) -> Collected:
        """Advance watermarks; return each moved partition's new offset and released outputs."""
        collected: Collected = {}
        with self._lock:
            for partition, state in self._partitions.items():
                if partitions is not None and partition not in partitions:
                    continue
                before = state.watermark.committable
                outputs = state.watermark.advance()
                after = state.watermark.committable
                if after is not None and after != before:
                    collected[partition] = (after, outputs)
            if partitions is None:
                self._completed_since_collect = 0
        return collected

    @property
    def completed_since_collect(self) -> int:
        return self._completed_since_collect

    @property
    def running(self) -> int:
        return self._running

    def buffered(self) -> dict[PartitionId, int]:
        """Per partition, messages fetched and not yet passed by the watermark."""
        with self._lock:
            return {p: len(s.watermark) for p, s in self._partitions.items()}

    def positions(self) -> dict[PartitionId, tuple[int | None, int | None]]:
        """Per partition: (next offset fetched, committable watermark)."""
        with self._lock:
            return {p: (s.next_fetch, s.watermark.committable) for p, s in self._partitions.items()}

    # --- internals (lock held) -------------------------------------------------------

    def _finish_running(self, entry: Entry) -> None:
        entry.state = QUEUED
        entry.partition.running -= 1
        self._running -= 1
        if entry.partition.running == 0 and not entry.partition.accepting:
            self._settled.notify_all()

    def _advance_key(self, entry: Entry) -> None:
        queue = self._keys[entry.key]
        queue.popleft()
        if queue:
            head = queue[0]
            head.state = READY
            self._ready.append(head)
            if self._idle_takers:
                self._work.notify(1)
        else:
            del self._keys[entry.key]
            if not self._keys:
                self._settled.notify_all()

    def _release_due(self, now: float) -> None:
        delayed = self._delayed
        while delayed and delayed[0][0] <= now:
            _, _, entry = heapq.heappop(delayed)
            entry.state = READY
            self._ready.append(entry)

    def _drop_waiting(self, states: set[PartitionState]) -> None:
        """Remove every non-running entry of the partitions ``states``; promote new key heads."""
        if not states:
            return

        def gone(entry: Entry) -> bool:
            return entry.partition in states and entry.state != RUNNING

        self._ready = deque(e for e in self._ready if not gone(e))
        self._delayed = [item for item in self._delayed if not gone(item[2])]
        heapq.heapify(self._delayed)
        for key, queue in list(self._keys.items()):
            if not any(gone(e) for e in queue):
                continue
            kept = deque(e for e in queue if not gone(e))
            if not kept:
                del self._keys[key]
                continue
            self._keys[key] = kept
            head = kept[0]
            if head.state == QUEUED:
                head.state = READY
                self._ready.append(head)
                self._work.notify(1)
