"""The worker threads: take a batch, run the handler, settle every message's outcome.

Workers never touch the Kafka consumer (it is not thread-safe); they only talk
to the scheduler, which the polling thread reads when it commits. A retry does
not sleep in the worker: the message is parked with its delay and the worker
goes on with other keys.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from itertools import repeat
from operator import attrgetter
from typing import Any, Generic, TypeVar, cast

from consumer.engine.dead_letter import DeadLetters
from consumer.engine.dependencies import DependencyHealth
from consumer.engine.errors import GiveUpFailed, HandlerContractError
from consumer.engine.handler import BatchHandler
from consumer.engine.messages import Message, OutputMessage
from consumer.engine.metrics import EngineMetrics
from consumer.engine.outcomes import (
    DependencyDown,
    Fail,
    Failure,
    Outcome,
    Processed,
    Retry,
    outcome_from_exception,
)
from consumer.engine.retry import RetryPolicy
from consumer.engine.scheduler import Entry, KeyOrderedScheduler, Run, Unit

T = TypeVar("T")
log = logging.getLogger(__name__)
_outputs = attrgetter("outputs")


class WorkerPool(Generic[T]):
    def __init__(
        self,
        *,
        size: int,
        scheduler: KeyOrderedScheduler,
        handler: BatchHandler[T],
        retry_policy: RetryPolicy,
        dead_letters: DeadLetters | None,
        metrics: EngineMetrics,
        group: str,
        on_fatal: Callable[[BaseException], None],
        health: DependencyHealth | None = None,
    ) -> None:
        if size < 1:
            raise ValueError(f"a worker pool needs at least one worker, got {size}")
        if handler.max_batch_size < 1:
            raise ValueError(f"handler.max_batch_size must be >= 1, got {handler.max_batch_size}")
        self._scheduler = scheduler
        self._handler = handler
        self._retry = retry_policy
        self._dead_letters = dead_letters
        self._on_fatal = on_fatal
        self._health = health
        self._group = group
        self._metrics = metrics
        self._batch_duration = metrics.batch_duration.labels(group)
        self._processed_counters: dict[str, Any] = {}
        self._stopping = threading.Event()
        self._threads = [
            threading.Thread(target=self._loop, name=f"engine-worker-{i}", daemon=True)
            for i in range(size)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float) -> None:
        """Take no new batches; wait up to ``timeout`` for running ones (then abandon them)."""
        self._stopping.set()
        self._scheduler.close()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _loop(self) -> None:
        max_size = self._handler.max_batch_size
        take = self._scheduler.take
        while not self._stopping.is_set():
            batch = take(max_size, 0.5)
            if batch:
                try:
                    self._run(batch)
                except Exception as exc:
                    log.exception("worker failed outside the handler")
                    self._on_fatal(exc)
                    for entry in batch:  # what _run had not let go of yet
                        self._scheduler.abandon(entry)
                    return

    def _run(self, entries: list[Unit]) -> None:
        """Run the handler over ``entries`` and settle each one's outcome.

        Entries leave ``entries`` as they are let go of (completed, parked for a
        retry, or abandoned): once the watermark passed a completed entry the
        scheduler reuses it for another message, so nothing here may touch it again.
        A run (one unit for many messages) is completed at once if every message
        of it succeeded, and otherwise split into entries settled one by one.
        """
        first = entries[0]
        run = first if isinstance(first, Run) else None  # a run is taken on its own
        if run is not None:
            messages: list[Message[T]] = run.messages.copy()  # the handler's own list
        else:
            messages = [entry.message for entry in cast(list[Entry], entries)]
        started = time.monotonic()
        try:
            outcomes: Sequence[Outcome] = self._handler.handle_batch(messages)
        except Exception as exc:  # noqa: BLE001 - classified per message below
            failed = outcome_from_exception(exc)
            outcomes = [failed] * len(messages)
        elapsed = time.monotonic() - started
        self._note_late(entries)
        self._batch_duration.observe(elapsed)
        self._scheduler.record_batch(elapsed, len(messages))
        if len(outcomes) != len(messages):
            self._on_fatal(
                HandlerContractError(
                    f"{type(self._handler).__name__}.handle_batch returned {len(outcomes)} "
                    f"outcomes for {len(messages)} messages; it must return one per message"
                )
            )
            for entry in entries:
                self._scheduler.abandon(entry)
            entries.clear()
            return
        if all(map(isinstance, outcomes, repeat(Processed))):  # the common case, checked in C
            self._count_processed(messages)
            if run is not None:
                entries.clear()
                self._scheduler.complete_run(run, list(map(_outputs, outcomes)))
                return
            every = cast(list[Entry], entries.copy())
            entries.clear()
            self._scheduler.complete_many(every, list(map(_outputs, outcomes)))
            return
        if run is not None:
            entries[:] = self._scheduler.split(run)
        done_messages: list[Message[T]] = []
        done: list[Entry] = []
        outputs: list[Sequence[OutputMessage]] = []
        unsettled: list[tuple[Entry, Outcome]] = []
        singles = cast(list[Entry], entries)  # a run was split above
        for entry, message, outcome in zip(singles, messages, outcomes, strict=True):
            if isinstance(outcome, Processed):
                done.append(entry)
                done_messages.append(message)
                outputs.append(outcome.outputs)
            else:
                unsettled.append((entry, outcome))
        entries[:] = [entry for entry, _ in reversed(unsettled)]
        if done:
            self._count_processed(done_messages)
            self._scheduler.complete_many(done, outputs)
        for entry, outcome in unsettled:
            entries.pop()
            self._settle(entry, outcome)

    @staticmethod
    def _note_late(entries: list[Unit]) -> None:
        """Log work that ended after its partition was revoked and forgotten (abandoned past
        the revoke deadline): its outcome and outputs are dropped and its offset stays
        uncommitted, so the partition's next owner redoes it. Without this line a chain of
        work spread over messages (an ask and its resume) seemed to stop there."""
        late: list[Message[Any]] = []
        for unit in entries:
            if not unit.partition.alive:
                late.extend(unit.messages if isinstance(unit, Run) else (unit.message,))
        if late:
            log.info(
                "batch ended after its partition was revoked; the next owner redoes %s",
                ", ".join(f"{m.topic}[{m.partition}]@{m.offset}" for m in late),
            )

    def _count_processed(self, done: list[Message[T]]) -> None:
        counters = self._processed_counters
        topic = done[0].topic
        if all(message.topic == topic for message in done):
            counts = {topic: len(done)}
        else:
            counts = {}
            for message in done:
                counts[message.topic] = counts.get(message.topic, 0) + 1
        for topic, count in counts.items():
            counter = counters.get(topic)
            if counter is None:
                counter = counters[topic] = self._metrics.processed.labels(
                    self._group, topic, "processed"
                )
            counter.inc(count)

    def _settle(self, entry: Entry, outcome: Outcome) -> None:
        """Everything but success: retry, give up, or report a contract breach."""
        message = entry.message
        if isinstance(outcome, Retry):
            if not entry.partition.accepting:
                # Revoked while it ran: not the message's failure; the next owner runs it.
                self._scheduler.retry(entry, 0.0)
                return
            if isinstance(outcome.error, DependencyDown) and self._health is not None:
                # The world's fault, not the message's: hold it, uncounted, until it is back.
                self._health.report(outcome.error)
                self._scheduler.park(entry)
                self._metrics.retries.labels(self._group, message.topic).inc()
                return
            if self._retry.may_retry(message.attempt):
                delay = self._retry.delay(message.attempt, outcome.retry_after)
                log.info(
                    "retrying %s[%d]@%d in %.2fs (attempt %d failed: %s)",
                    message.topic,
                    message.partition,
                    message.offset,
                    delay,
                    message.attempt,
                    outcome.error,
                )
                self._scheduler.retry(entry, delay)
                self._metrics.retries.labels(self._group, message.topic).inc()
            else:
                self._give_up(entry, Failure(outcome.error, message.attempt, True))
        elif isinstance(outcome, Fail):
            self._give_up(entry, Failure(outcome.error, message.attempt, False))
        else:
            self._on_fatal(
                HandlerContractError(
                    f"{type(self._handler).__name__}.handle_batch returned {outcome!r}; "
                    "expected Processed, Retry or Fail"
                )
            )
            self._scheduler.abandon(entry)

    def _carried(self, message: Message[T], failure: Failure) -> Sequence[OutputMessage]:
        """What a dead-lettered message still owes others (``BatchHandler.on_dead_letter``).

        A handler failing here must not lose the dead letter itself: it is logged and the
        message is dead-lettered alone."""
        try:
            return tuple(self._handler.on_dead_letter(message, failure))
        except Exception:
            log.exception(
                "on_dead_letter failed for %s[%d]@%d; dead-lettering it alone",
                message.topic,
                message.partition,
                message.offset,
            )
            return ()

    def _give_up(self, entry: Entry, failure: Failure) -> None:
        message = entry.message
        if failure.retries_exhausted and self._dead_letters is not None:
            # A transient failure that outlasted its attempts is not the record's fault either:
            # keep the original message, with the reason, for ``cpqsync dlq redrive``.
            log.warning(
                "dead-lettering %s[%d]@%d: still failing after %d attempt(s): %s",
                message.topic,
                message.partition,
                message.offset,
                failure.attempts,
                failure.error,
            )
            letter = self._dead_letters.record(message, failure.error)
            self._scheduler.complete(entry, (letter, *self._carried(message, failure)))
            self._metrics.dead_letters.labels(self._group, message.topic, "retries_exhausted").inc()
            self._metrics.processed.labels(self._group, message.topic, "dead_lettered").inc()
            return
        try:
            outputs: Sequence[Any] = self._handler.on_give_up(message, failure)
        except Exception as exc:
            if self._dead_letters is None:
                self._on_fatal(
                    GiveUpFailed(
                        f"on_give_up raised for {message.topic}[{message.partition}]@"
                        f"{message.offset} and no dead-letter topic is configured: {exc}"
                    )
                )
                self._scheduler.abandon(entry)  # its offset is never committed
                return
            log.exception("on_give_up failed; dead-lettering %s", message.offset)
            letter = self._dead_letters.record(message, exc)
            self._scheduler.complete(entry, (letter, *self._carried(message, failure)))
            self._metrics.dead_letters.labels(self._group, message.topic, "give_up_failed").inc()
            self._metrics.processed.labels(self._group, message.topic, "dead_lettered").inc()
            return
        log.warning(
            "gave up on %s[%d]@%d after %d attempt(s): %s",
            message.topic,
            message.partition,
            message.offset,
            failure.attempts,
            failure.error,
        )
        self._scheduler.complete(entry, outputs)
        self._metrics.processed.labels(self._group, message.topic, "given_up").inc()
