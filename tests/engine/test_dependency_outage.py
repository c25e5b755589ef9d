"""A dependency outage holds the work instead of failing it: nothing is given up, nothing is
committed past a held message, the member stays in its group, reports not ready, and carries
on by itself once a probe finds the dependency back. Transient failures that outlast their
attempts go to the dead-letter topic with their original bytes."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from consumer.dead_letter_envelope import envelope_headers
from consumer.engine import (
    BatchHandler,
    Dependency,
    DependencyDown,
    Message,
    Outcome,
    Processed,
    Retry,
    RetryableError,
)
from cpqsync.app.ops.dead_letter_view import view
from cpqsync.app.ops.redrive import redrive
from schemas.dead_letter import from_headers
from tests.engine.support import (
    Running,
    committed_offsets,
    end_of,
    make_engine,
    produce_keyed,
    read_topic,
    wait_until,
)

pytestmark = pytest.mark.integration


class _Ledger(BatchHandler[int]):
    """Books each value once; while the ledger service is down every call fails systemically."""

    max_batch_size = 5

    def __init__(self) -> None:
        self.down = False
        self.booked: Counter[int] = Counter()
        self.calls_while_down = 0
        self.held: dict[tuple[int, int], int] = {}  # (partition, offset) -> value
        self.attempts_seen: dict[int, set[int]] = {}
        self._lock = threading.Lock()

    def probe(self) -> None:
        if self.down:
            raise ConnectionError("ledger.internal:443 refused the connection")

    def handle_batch(self, batch: Sequence[Message[int]]) -> Sequence[Outcome]:
        time.sleep(0.01)
        with self._lock:
            for message in batch:
                self.attempts_seen.setdefault(message.value, set()).add(message.attempt)
            if self.down:
                self.calls_while_down += 1
                for message in batch:
                    self.held[(message.partition, message.offset)] = message.value
                error = DependencyDown(
                    "ledger answered HTTP 503", dependency="ledger", setting="ledger.url"
                )
                return [Retry(error)] * len(batch)
            for message in batch:
                self.booked[message.value] += 1
        return [Processed()] * len(batch)


def _gauge(registry: CollectorRegistry, group: str, dependency: str) -> float | None:
    return registry.get_sample_value(
        "cpqsync_dependency_up", {"group": group, "dependency": dependency}
    )


def test_an_outage_holds_work_pauses_and_resumes_by_itself(
    kafka: str,
    new_topic: Any,
    unique: Any,
    fast_group_config: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    topic = new_topic("ledger", partitions=2)
    produce_keyed(kafka, topic, 400, 40)
    group = unique("g")
    ledger = _Ledger()
    registry = CollectorRegistry()
    engine = make_engine(
        kafka,
        topic,
        group,
        ledger,
        fast_group_config,
        workers=4,
        max_attempts=2,  # an outage lasts many probes: its failures must not count
        retry_initial_backoff_ms=100,
        retry_max_backoff_ms=1_000,
        max_in_flight=60,
        max_buffered_per_partition=30,
        engine_kwargs={
            "dependencies": [Dependency("ledger", "ledger.url", ledger.probe)],
            "registry": registry,
        },
    )
    assert _gauge(registry, group, "ledger") == 1 and _gauge(registry, group, "kafka") == 1
    caplog.set_level(logging.INFO, logger="consumer.engine.dependencies")
    running = Running(engine)
    try:
        wait_until(lambda: sum(ledger.booked.values()) >= 60, 60, "the first bookings")
        ledger.down = True
        wait_until(lambda: not engine.is_ready(), 10, "the member to report not ready")
        assert engine.health.down() == ["ledger"]
        assert _gauge(registry, group, "ledger") == 0
        time.sleep(1.0)
        calls = ledger.calls_while_down
        committed_during = committed_offsets(kafka, group, topic, 2)
        time.sleep(3.0)  # many probe intervals
        assert ledger.calls_while_down == calls, "no new work is taken while it is down"
        # Only batches running, or taken before the first failure was reported, failed.
        assert calls <= 2 * 4, calls
        assert engine.assignment, "the member keeps its partitions"
        assert registry.get_sample_value(
            "cpqsync_engine_paused_partitions", {"group": group}
        ) == len(engine.assignment)
        # Nothing is committed past a held message.
        for (partition, offset), _ in ledger.held.items():
            assert committed_during[(topic, partition)] <= offset
        assert committed_offsets(kafka, group, topic, 2) == committed_during

        ledger.down = False
        wait_until(engine.is_ready, 20, "the member to be ready again by itself")
        wait_until(
            lambda: committed_offsets(kafka, group, topic, 2) == end_of(kafka, topic, 2),
            60,
            "every offset to be committed after the outage",
        )
    finally:
        running.stop()

    assert sorted(ledger.booked) == list(range(400)), "nothing lost"
    assert set(ledger.booked.values()) == {1}, "nothing booked twice"
    assert ledger.held, "the outage caught work in flight"
    for value in ledger.held.values():
        assert ledger.attempts_seen[value] == {1}, "a held message keeps its attempt number"
    assert _gauge(registry, group, "ledger") == 1
    lines = [r for r in caplog.records if r.name == "consumer.engine.dependencies"]
    assert len([r for r in lines if "is down" in r.getMessage()]) == 1
    assert len([r for r in lines if "is back" in r.getMessage()]) == 1
    assert "Check ledger.url" in next(r.getMessage() for r in lines if "is down" in r.getMessage())


class _Flaky(BatchHandler[int]):
    """Value 13 fails with a transient error that is not an outage while its row is locked."""

    def __init__(self) -> None:
        self.locked = True
        self.processed: list[int] = []

    def handle_batch(self, batch: Sequence[Message[int]]) -> Sequence[Outcome]:
        outcomes: list[Outcome] = []
        for message in batch:
            if message.value == 13 and self.locked:
                outcomes.append(Retry(RetryableError("row locked (UNABLE_TO_LOCK_ROW)")))
            else:
                self.processed.append(message.value)
                outcomes.append(Processed())
        return outcomes


def test_exhausted_retries_go_to_the_dead_letter_topic_and_can_be_redriven(
    kafka: str, new_topic: Any, unique: Any, fast_group_config: dict[str, Any]
) -> None:
    topic, dlq = new_topic("flaky"), new_topic("dlq")
    produce_keyed(kafka, topic, 30, 5)
    group = unique("g")
    handler = _Flaky()
    engine = make_engine(
        kafka,
        topic,
        group,
        handler,
        fast_group_config,
        max_attempts=3,
        retry_initial_backoff_ms=10,
        retry_max_backoff_ms=50,
        engine_kwargs={
            "dead_letter_topic": dlq,
            "dead_letter_envelope": envelope_headers,
        },
    )
    running = Running(engine)
    try:
        wait_until(
            lambda: committed_offsets(kafka, group, topic, 1) == end_of(kafka, topic, 1),
            60,
            "every offset to be committed",
        )
        [letter] = read_topic(kafka, dlq, 1, expect=1)
        assert letter.value() == b"13" and letter.key() == b"k3", "the original bytes and key"
        envelope = from_headers(letter.headers())
        assert (envelope.origin_topic, envelope.origin_offset, envelope.attempts) == (topic, 13, 3)
        assert "UNABLE_TO_LOCK_ROW" in envelope.error_message, "the reason travels with it"
        assert 13 not in handler.processed

        # What `cpqsync dlq redrive` does, once the cause is gone.
        handler.locked = False
        dead = view(0, letter.offset(), letter.key(), letter.value(), letter.headers())
        outcome = redrive({"bootstrap.servers": kafka}, [dead], {topic: 1})
        assert len(outcome.sent) == 1, outcome
        wait_until(lambda: 13 in handler.processed, 30, "the redriven message to be processed")
    finally:
        running.stop()
