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
from itertools import chain, groupby
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
        self.watermark: OffsetWatermark[Unit] = OffsetWatermark()
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


class Run(Tracked):
    """A fetched run of one partition whose keys are distinct and idle, as one unit.

    For a handler that returns in microseconds the per-message bookkeeping (an
    entry, a key head, a watermark item, a hand-out and a completion each) cost
    more than the handler. Keys that are all distinct and have nothing queued or
    running cannot break key order by running together, so such a run is queued,
    taken, tracked and completed as one item: it is the head of each of its
    keys, later messages of those keys queue behind it, and the watermark passes
    it only once all its messages completed. If any message of it does not
    simply succeed (a retry, a give-up, a handler exception), the run is split
    into ordinary entries first (``split``), so retries, give-ups and
    revocation handle each message as before.
    """

    __slots__ = ("keys", "messages", "partition", "size", "state")

    def __init__(
        self, messages: list[Message[Any]], keys: list[Hashable], partition: PartitionState
    ) -> None:
        self.offset = messages[-1].offset
        self.outputs = None
        self.messages = messages
        self.keys = keys
        self.partition = partition
        self.size = len(messages)
        self.state = READY


Unit = Entry | Run  # what the ready queue, the key heads and a taken batch hold

_new_entry = object.__new__
_message_offset = itemgetter(2)
_message_key = itemgetter(3)
# Runs shorter than this are queued message by message (the unit would save little).
MIN_RUN = 8

Collected = dict[PartitionId, tuple[int, list[OutputMessage]]]


class KeyOrderedScheduler:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._settled = threading.Condition(self._lock)  # revocation waits here for running ones
        self._progress = threading.Condition(self._lock)  # a full buffer waits here for completions
        self._progress_waiting = False
        self._partitions: dict[PartitionId, PartitionState] = {}
        self._heads: dict[Hashable, Unit] = {}
        self._followers: dict[Hashable, deque[Entry]] = {}  # only keys with a queue
        self._ready: deque[Unit] = deque()
        self._ready_runs = 0  # how many of ``_ready`` are runs (none: the plain hand-out)
        self._delayed: list[tuple[float, int, Entry]] = []
        # Entries held until a dependency is back (``park``), and whether work is held at all.
        self._parked: list[Entry] = []
        self._holding = False
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
            partitions, heads = self._partitions, self._heads
            ready = self._ready
            # Units of distinct idle keys only for a handler fast enough that a
            # worker takes at least that many messages at once anyway.
            run_size = min(self._max_size, self._min_batch)
            # A fetch returns runs of one partition: look its state up once per run.
            for partition, fetched in groupby(messages, _partition_of):
                state = partitions.get(partition)
                if state is None or not state.accepting:
                    continue
                run = list(fetched)
                if run_size < MIN_RUN:
                    state.watermark.track_run(self._entries(run, state))
                    accepted += len(run)
                    continue
                items: list[Unit] = []
                for start in range(0, len(run), run_size):
                    chunk = run[start : start + run_size]
                    keys: list[Hashable] = list(map(_message_key, chunk))
                    distinct = set(keys)
                    if (
                        len(distinct) == len(keys)
                        and None not in distinct
                        and heads.keys().isdisjoint(distinct)
                    ):
                        unit = Run(chunk, keys, state)
                        heads.update(dict.fromkeys(keys, unit))
                        ready.append(unit)
                        self._ready_runs += 1
                        items.append(unit)
                    else:
                        items.extend(self._entries(chunk, state))
                state.watermark.track_run(items, list(map(_message_offset, run)))
                accepted += len(run)
            if ready:
                self._wake_for_ready()
        return accepted

    def _entries(self, messages: list[Message[Any]], state: PartitionState) -> list[Entry]:
        """Queue ``messages`` (of one partition, in offset order) one entry each (lock held)."""
        heads, followers, ready, spare = self._heads, self._followers, self._ready, self._spare
        reuse = spare.pop
        entries: list[Entry] = []
        append = entries.append
        for message in messages:
            # Reused entries are long-lived to the garbage collector; see ``collect``.
            entry = reuse() if spare else _new_entry(Entry)
            entry.offset = message.offset
            entry.outputs = None
            entry.message = message
            entry.partition = state
            raw_key = message.key
            entry.key = raw_key if raw_key is not None else next(_keyless)
            append(entry)
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
        return entries

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

    def take(self, max_size: int, timeout: float) -> list[Unit]:
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
                if self._ready and not self._holding and not self._busy_worker_suffices():
                    break
                now = self._clock()
                if deadline is None:
                    deadline = now + timeout
                if now >= deadline:
                    return []
                wait = deadline - now
                if self._delayed and not self._holding:
                    wait = min(wait, self._delayed[0][0] - now)
                self._sleep(max(wait, 0.0))
            ready = self._ready
            front = ready[0]
            if front.__class__ is Run and front.size > self._min_batch:
                # The handler got slower since the run was queued: share its messages out.
                ready.popleft()
                self._ready_runs -= 1
                ready.extendleft(reversed(self._unrun(front, READY)))
            available = len(ready)
            share = -(-available // (len(self._idle) + self._waking + 1))
            size = min(max_size, available, max(share, self._min_batch))
            popleft = ready.popleft
            if not self._ready_runs:
                batch: list[Unit] = [popleft() for _ in range(size)]
            elif ready[0].__class__ is Run:  # a run is a batch of its own
                self._ready_runs -= 1
                batch = [popleft()]
                size = batch[0].size
            else:
                batch = []
                while len(batch) < size and ready and ready[0].__class__ is not Run:
                    batch.append(popleft())
                size = len(batch)
            for entry in batch:
                entry.state = RUNNING
                entry.partition.running += entry.size
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
            self._release_keys([entry.key for entry in entries])
            heads = self._heads
            self._running -= len(entries)
            self._completed_since_collect += completed
            if settled or not heads:
                self._settled.notify_all()
            if self._progress_waiting:
                self._progress.notify()

    def complete_run(self, run: Run, outputs: Sequence[Sequence[OutputMessage]]) -> None:
        """Complete every message of ``run`` (one per ``outputs``); like ``complete_many``."""
        with self._lock:
            heads, followers = self._heads, self._followers
            run.outputs = list(chain.from_iterable(outputs)) if any(outputs) else ()
            run.state = DONE
            state = run.partition
            size = run.size
            state.running -= size
            self._running -= size
            if state.alive:
                self._completed_since_collect += size
            keys = run.keys
            if followers and not followers.keys().isdisjoint(keys):
                self._release_keys(keys)
            else:
                deque(map(heads.pop, keys), maxlen=0)  # the keys are idle again (in C)
            if (not state.accepting and not state.running) or not heads:
                self._settled.notify_all()
            if self._progress_waiting:
                self._progress.notify()

    def _release_keys(self, keys: Iterable[Hashable]) -> None:
        """The heads of ``keys`` completed: each key's next message is up, or the key is idle."""
        heads, followers, ready = self._heads, self._followers, self._ready
        for key in keys:
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

    def split(self, run: Run) -> list[Entry]:
        """``run`` as one running entry per message, in its place (a message of it failed).

        The entries then go through the per-message paths (retry, give-up,
        abandon) as if they had been taken one by one.
        """
        with self._lock:
            return self._unrun(run, RUNNING)

    def _unrun(self, run: Run, state: int) -> list[Entry]:
        """Put one entry per message of ``run``, in ``state``, where ``run`` was (lock held)."""
        heads = self._heads
        partition = run.partition
        entries: list[Entry] = []
        for message, key in zip(run.messages, run.keys, strict=True):
            entry: Entry = _new_entry(Entry)
            entry.offset = message.offset
            entry.outputs = None
            entry.message = message
            entry.partition = partition
            entry.key = key
            entry.state = state
            heads[key] = entry
            entries.append(entry)
        if partition.alive:
            partition.watermark.split(run, entries)
        run.state = DONE
        return entries

    def retry(self, entry: Entry, delay: float) -> None:
        """Park ``entry`` (still the head of its key) for ``delay`` seconds, then run it again."""
        with self._lock:
            self._finish_running(entry)
            if not entry.partition.accepting:
                self._advance_key(entry.key)  # revoked meanwhile: the next owner retries it
                return
            entry.message = next_attempt(entry.message)
            entry.state = DELAYED
            heapq.heappush(self._delayed, (self._clock() + delay, next(self._sequence), entry))
            self._wake_one()  # a sleeping worker may need a shorter wait now

    def park(self, entry: Entry) -> None:
        """Hold ``entry`` (still the head of its key) until ``resume``; not a counted attempt.

        A dependency is down: the message is not at fault, so it keeps its attempt number
        and waits, uncommitted, for the dependency to come back.
        """
        with self._lock:
            self._finish_running(entry)
            if not entry.partition.accepting:
                self._advance_key(entry.key)  # revoked meanwhile: the next owner runs it
                return
            if not self._holding:  # the dependency came back while it was failing
                entry.state = READY
                self._ready.append(entry)
                self._wake_one()
                return
            entry.state = DELAYED
            self._parked.append(entry)

    def hold(self) -> None:
        """Hand out no work until ``resume`` (running batches finish; nothing new starts)."""
        with self._lock:
            self._holding = True

    def resume(self) -> None:
        """Hand out work again, parked entries first (they are the oldest of their keys)."""
        with self._lock:
            self._holding = False
            parked, self._parked = self._parked, []
            for entry in parked:
                entry.state = READY
            self._ready.extendleft(reversed(parked))
            if self._ready:
                self._wake_one()  # it wakes the next one if there is more

    @property
    def holding(self) -> bool:
        return self._holding

    @property
    def parked(self) -> int:
        return len(self._parked)

    def abandon(self, entry: Unit) -> None:
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
        passed: list[Any] = []
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
                reusable: list[Entry] = []
                for entry in passed[:room]:
                    if entry.__class__ is Entry:  # runs are not reused
                        entry.message = _RELEASED  # drop the message's bytes now
                        entry.outputs = None
                        reusable.append(entry)
                self._spare.extend(reusable)
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

    def _finish_running(self, entry: Unit) -> None:
        entry.state = QUEUED
        entry.partition.running -= entry.size
        self._running -= entry.size
        if entry.partition.running == 0 and not entry.partition.accepting:
            self._settled.notify_all()

    def _advance_key(self, key: Hashable) -> None:
        """The key's head leaves without completing: the key's next message (if any) is up."""
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

        def gone(entry: Unit) -> bool:
            return entry.partition in states and entry.state != RUNNING

        self._ready = deque(e for e in self._ready if not gone(e))
        self._ready_runs = sum(1 for e in self._ready if e.__class__ is Run)
        self._delayed = [item for item in self._delayed if not gone(item[2])]
        heapq.heapify(self._delayed)
        self._parked = [entry for entry in self._parked if not gone(entry)]
        for key, queue in list(self._followers.items()):
            kept = deque(e for e in queue if not gone(e))
            if not kept:
                del self._followers[key]
            elif len(kept) != len(queue):
                self._followers[key] = kept
        for key, head in list(self._heads.items()):
            if gone(head):
                self._advance_key(key)
        if not self._heads:
            self._settled.notify_all()
