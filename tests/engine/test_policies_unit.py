"""Retry backoff, flow control, the commit policy, dead-letter records and lag arithmetic."""

from __future__ import annotations

import datetime as dt

import pytest

from consumer.dead_letter_envelope import envelope_headers
from consumer.engine import DeadLetterLimitExceeded, Message, PermanentError, RetryableError
from consumer.engine.backpressure import FlowControl
from consumer.engine.commit_policy import CommitPolicy
from consumer.engine.dead_letter import DeadLetters
from consumer.engine.handler import PerMessageHandler
from consumer.engine.lag import lag, reported_offsets
from consumer.engine.outcomes import Fail, Processed, Retry
from consumer.engine.retry import RetryPolicy


def test_backoff_is_jittered_capped_and_respects_retry_after() -> None:
    policy = RetryPolicy(max_attempts=5, initial_backoff_s=0.2, max_backoff_s=2.0)
    delays = [policy.delay(attempt) for attempt in range(1, 8) for _ in range(50)]
    assert all(0 <= d <= 2.0 for d in delays)
    assert len(set(delays)) > 100, "jittered, not lockstep"
    assert all(policy.delay(1, retry_after=7.5) >= 7.5 for _ in range(20))
    assert policy.may_retry(4) and not policy.may_retry(5)
    with pytest.raises(ValueError, match="initial <= max"):
        RetryPolicy(3, 5.0, 1.0)


def test_flow_control_pauses_full_partitions_and_resumes_at_half() -> None:
    flow = FlowControl(max_buffered=1000, max_buffered_per_partition=100)
    a, b = ("t", 0), ("t", 1)
    assert flow.decide({a: 100, b: 10}, set()) == ([a], [])
    assert flow.decide({a: 60, b: 10}, {a}) == ([], []), "hysteresis: not yet"
    assert flow.decide({a: 50, b: 10}, {a}) == ([], [a])
    assert flow.fetch_budget({a: 20, b: 10}, 990, set()) == 10
    assert flow.fetch_budget({a: 70, b: 10}, 80, set()) == 30, "a fetch may all be a's"
    assert flow.fetch_budget({a: 100, b: 10}, 110, {a}) == 90, "a paused fetches nothing"


def test_flow_control_pauses_everything_when_the_total_is_reached() -> None:
    flow = FlowControl(max_buffered=100, max_buffered_per_partition=80)
    a, b = ("t", 0), ("t", 1)
    assert sorted(flow.decide({a: 50, b: 50}, set())[0]) == [a, b]
    assert flow.decide({a: 40, b: 30}, {a, b}) == ([], []), "70 > the resume point of 50"
    assert sorted(flow.decide({a: 25, b: 25}, {a, b})[1]) == [a, b]
    assert flow.fetch_budget({a: 50, b: 50}, 100, set()) == 0


def test_commit_policy_commits_on_count_or_time() -> None:
    now = [0.0]
    policy = CommitPolicy(interval_s=1.0, every_messages=100, clock=lambda: now[0])
    assert not policy.due(0) and not policy.due(99)
    assert policy.due(100)
    now[0] = 1.0
    assert policy.due(1) and not policy.due(0), "time alone commits only if something completed"
    policy.committed()
    assert not policy.due(1)


def test_dead_letter_keeps_the_original_and_says_where_it_came_from() -> None:
    letters = DeadLetters(
        "cpqsync.dlq",
        "sync",
        3,
        envelope=envelope_headers,
        clock=lambda: dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
    )
    message = Message("orders", 2, 41, b"k", None, b"\x00raw", (("trace", b"x"),), 1_700_000)
    record = letters.record(message, ValueError("bad magic byte; key sk_test_abcdefgh123"))
    headers = dict(record.headers)
    assert (record.topic, record.key, record.value) == ("cpqsync.dlq", b"k", b"\x00raw")
    assert headers["trace"] == b"x"
    assert headers["cpqsync-dlq-origin-topic"] == b"orders"
    assert headers["cpqsync-dlq-origin-partition"] == b"2"
    assert headers["cpqsync-dlq-origin-offset"] == b"41"
    assert headers["cpqsync-dlq-origin-timestamp-ms"] == b"1700000"
    assert headers["cpqsync-dlq-origin-group"] == b"sync"
    assert headers["cpqsync-dlq-error-class"] == b"builtins.ValueError"
    assert b"sk_test" not in headers["cpqsync-dlq-error-message"], "secrets never reach the DLQ"
    assert headers["cpqsync-dlq-first-failed-at"] == b"2026-01-02T00:00:00.000+00:00"


def test_dead_letter_limit_counts_runs_per_partition() -> None:
    letters = DeadLetters("dlq", "sync", 3, envelope=envelope_headers)
    error = ValueError("bad")
    letters.count(("t", 0), error)
    letters.count(("t", 0), error)
    letters.count(("t", 1), error)
    letters.reset(("t", 0))
    letters.count(("t", 0), error)
    letters.count(("t", 1), error)
    with pytest.raises(DeadLetterLimitExceeded, match="topic 't' partition 1"):
        letters.count(("t", 1), error)


def test_lag_corrects_the_understated_high_watermark() -> None:
    stats = (
        '{"topics": {"t": {"partitions": {"0": {"hi_offset": 101, "committed_offset": 90},'
        ' "-1": {"hi_offset": -1}}}}}'
    )
    reported = reported_offsets(stats)
    assert reported == {("t", 0): (101, 90)}
    assert lag(reported, {("t", 0): 150}, {}) == {("t", 0): 60}, "we fetched past Tansu's figure"
    assert lag(reported, {("t", 0): 95}, {("t", 0): 100}) == {("t", 0): 1}
    assert lag({}, {("t", 1): 5}, {}) == {}, "no commit yet: unknown, not guessed"


def test_per_message_adapter_classifies_what_the_function_raises() -> None:
    def handle(message: Message[int]) -> None:
        if message.value == 1:
            raise RetryableError("429", retry_after=2.0)
        if message.value == 2:
            raise PermanentError("no such price")
        if message.value == 3:
            raise ConnectionError("reset")

    handler = PerMessageHandler(handle)
    batch = [Message("t", 0, i, None, i, b"") for i in range(4)]
    outcomes = handler.handle_batch(batch)
    assert isinstance(outcomes[0], Processed)
    assert isinstance(outcomes[1], Retry) and outcomes[1].retry_after == 2.0
    assert isinstance(outcomes[2], Fail)
    assert isinstance(outcomes[3], Retry), "unknown errors are retried, with a bound"
    with pytest.raises(ValueError, match="retry_after"):
        RetryableError("x", retry_after=-1)
