"""Key-ordered hand-out of work to the worker threads.

Every key has one *head*: its oldest unfinished message, which is ready,
waiting out a retry delay, or running. Later messages of the key wait behind it
in a FIFO, so two messages of one key are never in flight together and each
key's messages run in the order they were fetched (offset order within a
partition). Different keys are independent: a slow or retrying key holds up
only itself, and its partition's later keys keep flowing until backpressure
(bounded by the watermark's tracked count) pauses the partition. Messages
without a key have no order to keep and each runs on its own.

All state sits behind one lock: the polling thread submits and commits, the
workers take and settle. The hot paths (``submit``, ``take``,
``complete_many``) handle a whole batch per lock acquisition with plain dicts
and deques, because at tens of thousands of messages a second any per-message
call or allocation beyond the ``Entry`` itself shows in the throughput.

Idle workers sleep on a gate of their own rather than on a shared condition,
and at most one is being woken at any time: the woken worker takes its share
and wakes the next one only if work is left over. A burst of work therefore
ramps up as many workers as it can use, one after another, instead of waking
every idle thread to fight over the lock.

How much work is worth another thread depends on the handler, so the
scheduler keeps a moving average of the handler's time per message. For an
I/O-bound handler (milliseconds or more per message) every ready message is
worth a worker: ready work is shared out among the idle workers for maximum
concurrency. For a handler that returns in microseconds, waking a thread costs
more than the work it would take over (and the GIL runs one at a time anyway),
so batches carry at least ``HAND_OFF_S`` of expected work and a busy worker
that will be back within ``HAND_OFF_S`` is left to take the rest itself. If
that worker does not come back in time (a normally fast handler blocking), the
next ``submit`` or the polling thread's ``nudge`` wakes another, so a stuck
batch never holds up other keys for long.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Hashable, Iterable, Sequence
from itertools import groupby
from operator import itemgetter
from typing import Any

from consumer.engine.messages import Message, OutputMessage, PartitionId, next_attempt
from consumer.engine.watermark import OffsetWatermark, Tracked

QUEUED, READY, DELAYED, RUNNING, DONE = range(5)

# Work worth less than this is not split across threads: waking a sleeping
# worker and handing it a batch costs tens of microseconds of the shared GIL.
HAND_OFF_S = 0.001
# Weight of the newest batch in the moving average of the handler's time per message.
_SPEED_WEIGHT = 0.2
_keyless = itertools.count()
# Entries kept for reuse at most (backpressure bounds how many are ever in flight).
_MAX_SPARE = 20_000
_partition_of = itemgetter(0, 1)  # a Message's (topic, partition)
_RELEASED: Message[None] = Message("", -1, -1, None, None, None)  # a reused entry's placeholder


class PartitionState:
    __slots__ = ("accepting", "alive", "id", "running", "watermark")

    def __init__(self, partition: PartitionId) -> None:
        self.id = partition
        self.watermark: OffsetWatermark[Entry] = OffsetWatermark()
        self.running = 0
        self.accepting = True  # False once revocation starts: queued work is dropped
        self.alive = True  # False once removed: late completions are ignored


class Entry(Tracked):
    """One message moving through the scheduler; the watermark tracks it until it completes.

    ``submit`` builds (or reuses) entries inline, without calling ``__init__``.
    """

    __slots__ = ("key", "message", "partition", "state")

    def __init__(self, message: Message[Any], partition: PartitionState) -> None:
        self.offset = message.offset
        self.outputs = None
        self.message = message
        self.partition = partition
        key = message.key
        # Keyless messages get a unique key of their own (not ``self``: a cycle
        # would leave every entry to the garbage collector instead of refcounting).
        self.key: Hashable = key if key is not None else next(_keyless)
        self.state = QUEUED


_new_entry = object.__new__

Collected = dict[PartitionId, tuple[int, list[OutputMessage]]]


class KeyOrderedScheduler:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._settled = threading.Condition(self._lock)  # revocation waits here for running ones
        self._progress = threading.Condition(self._lock)  # a full buffer waits here for completions
        self._progress_waiting = False
        self._partitions: dict[PartitionId, PartitionState] = {}
        self._heads: dict[Hashable, Entry] = {}
        self._followers: dict[Hashable, deque[Entry]] = {}  # only keys with a queue
        self._ready: deque[Entry] = deque()
        self._delayed: list[tuple[float, int, Entry]] = []
        self._sequence = itertools.count()
        self._running = 0
        self._idle: list[threading.Lock] = []  # gates of sleeping workers, newest last
        self._waking = 0  # workers let through their gate that have not taken yet
        self._gates = threading.local()
        self._closed = False
        self._completed_since_collect = 0
        # Until a batch was timed, assume a slow (I/O) handler: share work out.
        self._per_message_s = HAND_OFF_S
        self._min_batch = 1
        self._last_take = 0.0
        self._max_size = 1  # the workers' batch size limit, as last asked for
        self._spare: list[Entry] = []  # entries the watermark passed, for reuse

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
            return self._settled.wait_for(lambda: not self._heads, timeout)

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
                    # Reused entries may still point at this state: let its messages go.
                    state.watermark = OffsetWatermark()
            self._drop_waiting(states)

    def assigned(self) -> list[PartitionId]:
        with self._lock:
            return list(self._partitions)

    # --- intake (polling thread) -----------------------------------------------------

    def submit(self, messages: Sequence[Message[Any]]) -> int:
        """Queue ``messages``; returns how many were accepted (others are not ours anymore)."""
        accepted = 0
        with self._lock:
            partitions, heads, followers = self._partitions, self._heads, self._followers
            ready, spare = self._ready, self._spare
            reuse = spare.pop
            # A fetch returns runs of one partition: look its state up once per run.
            for partition, run in groupby(messages, _partition_of):
                state = partitions.get(partition)
                if state is None or not state.accepting:
                    continue
                entries: list[Entry] = []
                append = entries.append
                for message in run:
                    # Reused entries are long-lived to the garbage collector; see ``collect``.
                    entry = reuse() if spare else _new_entry(Entry)
                    entry.offset = message.offset
                    entry.outputs = None
                    entry.message = message
                    entry.partition = state
                    raw_key = message.key
                    entry.key = raw_key if raw_key is not None else next(_keyless)
                    append(entry)
                state.watermark.track_run(entries)
                for entry in entries:
                    key = entry.key
                    if key in heads:
                        entry.state = QUEUED
                        queue = followers.get(key)
                        if queue is None:
                            followers[key] = deque((entry,))
                        else:
                            queue.append(entry)
                    else:
                        heads[key] = entry
                        entry.state = READY
                        ready.append(entry)
                accepted += len(entries)
            if ready:
                self._wake_for_ready()
        return accepted

    def submit_completed(self, message: Message[Any], outputs: Sequence[OutputMessage]) -> bool:
        """Track a message that needs no worker (a dead letter) as done already."""
        with self._lock:
            state = self._partitions.get((message.topic, message.partition))
            if state is None or not state.accepting:
                return False
            entry = Entry(message, state)
            state.watermark.track(entry)
            entry.state = DONE
            entry.outputs = outputs
            self._completed_since_collect += 1
            return True

    # --- workers ---------------------------------------------------------------------

    def take(self, max_size: int, timeout: float) -> list[Entry]:
        """Up to ``max_size`` ready entries of distinct keys; [] after ``timeout`` or close.

        The ready work is shared out among the idle workers, so a batch grows to
        ``max_size`` only when there is more work than workers to run it, or
        when the handler is so fast that splitting its work across threads
        would cost more than it saves (see the module docstring).
        """
        with self._lock:
            self._max_size = max_size
            deadline: float | None = None
            while True:
                if self._closed:
                    return []
                if self._delayed:
                    self._release_due(self._clock())
                if self._ready and not self._busy_worker_suffices():
                    break
                now = self._clock()
                if deadline is None:
                    deadline = now + timeout
                if now >= deadline:
                    return []
                wait = deadline - now
                if self._delayed:
                    wait = min(wait, self._delayed[0][0] - now)
                self._sleep(max(wait, 0.0))
            ready = self._ready
            available = len(ready)
            share = -(-available // (len(self._idle) + self._waking + 1))
            size = min(max_size, available, max(share, self._min_batch))
            popleft = ready.popleft
            batch = [popleft() for _ in range(size)]
            for entry in batch:
                entry.state = RUNNING
                entry.partition.running += 1
            self._running += size
            self._last_take = self._clock()
            if ready:
                self._wake_for_ready()
            return batch

    def record_batch(self, seconds: float, size: int) -> None:
        """Learn how long the handler takes per message (a batch of ``size`` took ``seconds``).

        Lock-free: a lost update between two workers only delays the average by a batch.
        """
        per_message = self._per_message_s = self._per_message_s + _SPEED_WEIGHT * (
            seconds / size - self._per_message_s
        )
        self._min_batch = max(1, int(HAND_OFF_S / max(per_message, 1e-9)))

    def nudge(self) -> None:
        """Wake a worker for ready work a blocked batch left behind (the polling thread's tick)."""
        with self._lock:
            if self._ready:
                self._wake_for_ready()

    def complete(self, entry: Entry, outputs: Sequence[OutputMessage]) -> None:
        """Complete one entry outside the batch path (a give-up); wakes a worker for its key."""
        self.complete_many((entry,), (outputs,))
        with self._lock:
            if self._ready:
                self._wake_one()

    def complete_many(
        self, entries: Sequence[Entry], outputs: Sequence[Sequence[OutputMessage]]
    ) -> None:
        """Complete a batch's entries under one lock, promoting each key's next message.

        Wakes nobody: the worker calling this goes straight back to ``take``
        and picks up what became ready (waking the next worker if there is more).
        """
        with self._lock:
            heads, followers, ready = self._heads, self._followers, self._ready
            completed = 0
            settled = False
            for entry, outs in zip(entries, outputs, strict=True):
                entry.outputs = outs
                entry.state = DONE
                state = entry.partition
                state.running -= 1
                if state.alive:
                    completed += 1
                if not state.accepting and not state.running:
                    settled = True
                key = entry.key
                queue = followers.get(key)
                if queue is None:
                    del heads[key]
                else:
                    head = queue.popleft()
                    if not queue:
                        del followers[key]
                    heads[key] = head
                    head.state = READY
                    ready.append(head)
            self._running -= len(entries)
            self._completed_since_collect += completed
            if settled or not heads:
                self._settled.notify_all()
            if self._progress_waiting:
                self._progress.notify()

    def retry(self, entry: Entry, delay: float) -> None:
        """Park ``entry`` (still the head of its key) for ``delay`` seconds, then run it again."""
        with self._lock:
            self._finish_running(entry)
            if not entry.partition.accepting:
                self._advance_key(entry)  # revoked meanwhile: the next owner retries it
                return
            entry.message = next_attempt(entry.message)
            entry.state = DELAYED
            heapq.heappush(self._delayed, (self._clock() + delay, next(self._sequence), entry))
            self._wake_one()  # a sleeping worker may need a shorter wait now

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
            while self._idle:
                self._waking += 1
                self._idle.pop().release()

    # --- committing and observing (polling thread) -----------------------------------

    def collect(self, partitions: Collection[PartitionId] | None = None) -> Collected:
        """Advance watermarks; return each moved partition's new offset and released outputs.

        The entries passed are kept for reuse by ``submit``: nothing else holds
        them once the watermark passed them (workers let go of an entry when they
        complete it). Allocating one per message instead made every in-flight
        entry a young object that outlived a collection or two, and the cyclic
        garbage collector, promoting them, ran full collections over the whole
        process heap every few thousand messages: 20-40% of a no-op handler's time.
        """
        collected: Collected = {}
        passed: list[Entry] = []
        with self._lock:
            for partition, state in self._partitions.items():
                if partitions is not None and partition not in partitions:
                    continue
                before = state.watermark.committable
                outputs = state.watermark.advance(passed)
                after = state.watermark.committable
                if after is not None and after != before:
                    collected[partition] = (after, outputs)
            if partitions is None:
                self._completed_since_collect = 0
            room = _MAX_SPARE - len(self._spare)
            if room > 0:
                for entry in passed[:room]:
                    entry.message = _RELEASED  # drop the message's bytes now
                    entry.outputs = None
                self._spare.extend(passed[:room])
        return collected

    def wait_progress(self, timeout: float) -> bool:
        """Wait until something completed since the last ``collect``; False on timeout.

        The polling thread waits here when backpressure allows no fetching, so
        it makes room (by committing) as soon as workers finish, not a poll
        timeout later.
        """
        with self._lock:
            if self._completed_since_collect:
                return True
            self._progress_waiting = True
            try:
                return self._progress.wait_for(lambda: self._completed_since_collect > 0, timeout)
            finally:
                self._progress_waiting = False

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
            return {
                p: (s.watermark.next_offset, s.watermark.committable)
                for p, s in self._partitions.items()
            }

    # --- internals (lock held) -------------------------------------------------------

    def _sleep(self, seconds: float) -> None:
        """Release the lock and sleep on this thread's gate until woken or ``seconds`` pass."""
        gate: threading.Lock | None = getattr(self._gates, "gate", None)
        if gate is None:
            gate = self._gates.gate = threading.Lock()
            gate.acquire()  # closed: only a waker's release lets the owner through
        self._idle.append(gate)
        self._lock.release()
        try:
            woken = gate.acquire(True, seconds) if seconds > 0 else gate.acquire(False)
        finally:
            self._lock.acquire()
        if not woken:
            if gate in self._idle:
                self._idle.remove(gate)
                return
            gate.acquire()  # a waker let us through just after the timeout: close the gate again
        self._waking -= 1

    def _busy_worker_suffices(self) -> bool:
        """True if a worker holding a batch will be back for the ready work soon, and the
        batch another thread could take is worth less than handing it over (a fast handler)."""
        return (
            self._running > 0
            and min(len(self._ready), self._max_size) * self._per_message_s < HAND_OFF_S
            and self._clock() - self._last_take < HAND_OFF_S
        )

    def _wake_for_ready(self) -> None:
        """Wake a worker for the ready work, unless a busy one will be back for it sooner."""
        if self._idle and not self._waking and not self._busy_worker_suffices():
            self._waking += 1
            self._idle.pop().release()

    def _wake_one(self) -> None:
        if self._idle and not self._waking:
            self._waking += 1
            self._idle.pop().release()

    def _finish_running(self, entry: Entry) -> None:
        entry.state = QUEUED
        entry.partition.running -= 1
        self._running -= 1
        if entry.partition.running == 0 and not entry.partition.accepting:
            self._settled.notify_all()

    def _advance_key(self, entry: Entry) -> None:
        """``entry`` leaves its key without completing: the key's next message (if any) is up."""
        key = entry.key
        queue = self._followers.get(key)
        if queue is None:
            del self._heads[key]
            if not self._heads:
                self._settled.notify_all()
            return
        head = queue.popleft()
        if not queue:
            del self._followers[key]
        self._heads[key] = head
        head.state = READY
        self._ready.append(head)
        self._wake_one()

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
        for key, queue in list(self._followers.items()):
            kept = deque(e for e in queue if not gone(e))
            if not kept:
                del self._followers[key]
            elif len(kept) != len(queue):
                self._followers[key] = kept
        for head in list(self._heads.values()):
            if gone(head):
                self._advance_key(head)
        if not self._heads:
            self._settled.notify_all()
