"""Runs of distinct idle keys handed out as one unit: key order, watermark, backpressure
counts, splitting on failure and revocation hold exactly as for single messages."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest
from prometheus_client import CollectorRegistry

from consumer.engine.handler import BatchHandler
from consumer.engine.messages import Message, OutputMessage
from consumer.engine.metrics import engine_metrics
from consumer.engine.outcomes import Outcome, Processed, Retry
from consumer.engine.retry import RetryPolicy
from consumer.engine.scheduler import Entry, KeyOrderedScheduler, Run
from consumer.engine.workers import WorkerPool
from tests.engine.test_scheduler_unit import FakeClock, msg


def fast(clock: FakeClock | None = None) -> KeyOrderedScheduler:
    """A scheduler that has seen a microsecond handler with batches of up to 100."""
    s = KeyOrderedScheduler(clock=clock) if clock else KeyOrderedScheduler()
    s.assign([("t", 0), ("t", 1)])
    assert s.take(100, timeout=0) == []  # the workers' batch size limit
    for _ in range(40):
        s.record_batch(0.000_01, 10)
    return s


def take_run(s: KeyOrderedScheduler) -> Run:
    batch = s.take(100, timeout=0)
    assert len(batch) == 1 and isinstance(batch[0], Run), batch
    return batch[0]


def test_an_io_handler_gets_single_messages_not_runs() -> None:
    s = KeyOrderedScheduler()
    s.assign([("t", 0)])
    s.submit([msg(i, f"k{i}") for i in range(20)])
    batch = s.take(100, timeout=0)
    assert batch and all(isinstance(e, Entry) for e in batch), (
        "work is shared out message by message"
    )


def test_a_run_completes_as_one_and_its_keys_next_messages_wait_for_it() -> None:
    s = fast()
    s.submit([msg(i, f"k{i}") for i in range(20)])
    run = take_run(s)
    assert [m.offset for m in run.messages] == list(range(20))
    assert s.buffered() == {("t", 0): 20, ("t", 1): 0}, "backpressure counts messages"
    s.submit([msg(20, "k3"), msg(21, "k3")])
    assert s.take(100, timeout=0) == [], "k3's later messages wait behind the running run"
    s.complete_run(run, [[OutputMessage("r", bytes([i]))] for i in range(20)])
    assert s.collect() == {("t", 0): (20, [OutputMessage("r", bytes([i])) for i in range(20)])}
    follower = s.take(100, timeout=0)
    assert [e.message.offset for e in follower] == [20], "then k3 goes on, one at a time"  # type: ignore[union-attr]
    assert s.buffered() == {("t", 0): 2, ("t", 1): 0}


def test_a_run_with_a_repeated_or_busy_key_is_queued_message_by_message() -> None:
    s = fast()
    s.submit([msg(0, "a"), msg(1, "b"), msg(2, "a"), *[msg(i, f"k{i}") for i in range(3, 12)]])
    batch = s.take(100, timeout=0)
    assert all(isinstance(e, Entry) for e in batch)
    assert [e.message.offset for e in batch] == [0, 1, *range(3, 12)], "a's second waits"  # type: ignore[union-attr]


def test_a_queued_run_is_shared_out_again_once_the_handler_turns_slow() -> None:
    s = fast()
    s.submit([msg(i, f"k{i}") for i in range(40)])
    for _ in range(40):
        s.record_batch(0.2, 1)  # the handler now waits on I/O: 200 ms a message
    first = s.take(10, timeout=0)
    second = s.take(10, timeout=0)
    assert all(isinstance(e, Entry) for e in first + second), "messages, not the 40-message run"
    assert [e.offset for e in first + second] == list(range(20)), "two workers share them"
    s.complete_many(first, [[] for _ in first])  # type: ignore[arg-type]
    assert s.collect() == {("t", 0): (10, [])}
    assert s.buffered()[("t", 0)] == 30, "the watermark counts the rest message by message"


def test_a_failed_message_splits_its_run_and_alone_holds_the_watermark() -> None:
    clock = FakeClock()
    s = fast(clock)
    s.submit([msg(i, f"k{i}") for i in range(10)])
    run = take_run(s)
    entries = s.split(run)
    assert [e.message.offset for e in entries] == list(range(10))
    s.complete_many([e for e in entries if e.offset != 3], [[] for _ in range(9)])
    s.retry(entries[3], delay=5.0)
    assert s.collect() == {("t", 0): (3, [])}, "offsets 0-2 commit; 3 holds the rest back"
    assert s.buffered()[("t", 0)] == 7
    s.submit([msg(10, "k3"), msg(11, "k4")])
    ready = s.take(100, timeout=0)
    assert [e.message.offset for e in ready] == [11], "k3 waits for its retry; k4 goes on"  # type: ignore[union-attr]
    clock.now += 5.0
    again = s.take(100, timeout=0)
    assert [(e.message.offset, e.message.attempt) for e in again] == [(3, 2)]  # type: ignore[union-attr]
    s.complete_many(again + ready, [[], []])  # type: ignore[arg-type]
    assert s.collect() == {("t", 0): (10, [])}, "offset 10 (k3's next) has not run yet"
    assert [e.message.offset for e in s.take(100, timeout=0)] == [10]  # type: ignore[union-attr]


def test_revocation_drops_a_queued_run_and_frees_its_keys() -> None:
    s = fast()
    s.submit([msg(i, f"k{i}", partition=0) for i in range(10)])
    s.stop_taking([("t", 0)])
    s.remove([("t", 0)])
    assert s.take(100, timeout=0) == []
    assert s.wait_drained(timeout=0)
    s.submit([msg(i, f"k{i}", partition=1) for i in range(10)])
    assert [m.offset for m in take_run(s).messages] == list(range(10)), "no key stayed blocked"


def test_a_running_run_delays_revocation_until_it_completes() -> None:
    s = fast()
    s.submit([msg(i, f"k{i}") for i in range(10)])
    run = take_run(s)
    s.stop_taking([("t", 0)])
    assert not s.wait_settled([("t", 0)], timeout=0.01), "the run still runs"
    s.complete_run(run, [[] for _ in range(10)])
    assert s.wait_settled([("t", 0)], timeout=0.01)
    assert s.collect([("t", 0)]) == {("t", 0): (10, [])}, "the finished run still commits"


class RetriesOffsetFive(BatchHandler[int]):
    """Microseconds per message; offset 5 fails once, k5's next message must wait for it."""

    max_batch_size = 100

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []
        self.lock = threading.Lock()

    def handle_batch(self, batch: Sequence[Message[int]]) -> Sequence[Outcome]:
        with self.lock:
            self.calls.extend((m.offset, m.attempt) for m in batch)
        return [
            Retry(RuntimeError("once")) if m.offset == 5 and m.attempt == 1 else Processed()
            for m in batch
        ]


def test_a_worker_splits_a_run_on_a_retry_and_keeps_the_keys_order() -> None:
    s = fast()
    handler = RetriesOffsetFive()
    pool = WorkerPool(
        size=2,
        scheduler=s,
        handler=handler,
        retry_policy=RetryPolicy(max_attempts=3, initial_backoff_s=0.01, max_backoff_s=0.02),
        dead_letters=None,
        metrics=engine_metrics(CollectorRegistry()),
        group="g",
        on_fatal=lambda exc: pytest.fail(f"fatal: {exc}"),
    )
    s.submit([msg(i, f"k{i}") for i in range(20)])
    s.submit([msg(20, "k5"), msg(21, "k6")])
    pool.start()
    try:
        assert s.wait_drained(timeout=5)
    finally:
        pool.stop(timeout=5)
    assert s.collect() == {("t", 0): (22, [])}, "everything completed, the watermark passed all"
    order = [call for call in handler.calls if call[0] in (5, 20)]
    assert order == [(5, 1), (5, 2), (20, 1)], "k5's next message ran only after the retry"
    assert sorted(handler.calls) == sorted({*((i, 1) for i in range(22)), (5, 2)})
