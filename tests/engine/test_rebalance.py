"""A second member joins mid-run and later leaves: nothing lost, key order kept across handovers;
work abandoned on a revoked partition loses nothing of its keys when the partition comes back."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

import pytest
from confluent_kafka import Producer

from consumer.engine import BatchHandler, Message, Outcome, OutputMessage, Processed
from tests.engine.support import (
    Recorder,
    Running,
    assert_key_order,
    committed_offsets,
    end_of,
    make_engine,
    produce_keyed,
    random_latency,
    read_topic,
    wait_until,
)

pytestmark = pytest.mark.integration


def test_member_joins_and_leaves_without_loss(
    kafka: str, new_topic: Any, unique: Any, fast_group_config: dict[str, Any]
) -> None:
    topic = new_topic("rebal", partitions=4)
    expected = produce_keyed(kafka, topic, 3000, 100)
    group = unique("g")
    # One recorder shared by both members: a key running on both at once is an overlap.
    recorder = Recorder(latency=random_latency(0.002, 0.010))
    # A small per-partition buffer keeps partitions paused often, so some are paused when
    # they are revoked (librdkafka would keep them paused if they came back).
    small: dict[str, Any] = {"workers": 4, "max_buffered_per_partition": 20}
    first = Running(make_engine(kafka, topic, group, recorder, fast_group_config, **small))
    second: Running | None = None
    try:
        wait_until(lambda: recorder.count() >= 300, 60, "the first member to start")
        second = Running(make_engine(kafka, topic, group, recorder, fast_group_config, **small))
        wait_until(
            lambda: bool(second and second.engine.assignment), 60, "the second member to join"
        )
        assert len(first.engine.assignment) < 4, "the first member gave partitions away"
        wait_until(lambda: recorder.count() >= 1800, 90, "both members to work")
        second.stop()
        second = None
        wait_until(
            lambda: len(first.engine.assignment) == 4, 60, "the first member to take all back"
        )
        wait_until(lambda: recorder.count() >= 3000, 90, "all messages")
        wait_until(
            lambda: committed_offsets(kafka, group, topic, 4) == end_of(kafka, topic, 4),
            10,
            "the final commit",
        )
    finally:
        if second is not None:
            second.stop()
        first.stop()

    assert recorder.overlaps == [], "one key ran on two members at once"
    assert {value for _, value, _, _ in recorder.handled} == set(range(3000))
    assert_key_order(recorder.by_key(), expected)
    # Clean handovers commit what was done, so nothing needed redoing.
    assert recorder.count() == 3000


class _Blocking(BatchHandler[int]):
    """Outputs each value on ``out`` (key kept); a batch holding 4 or 5 (the first batch of
    each of two partitions) blocks until released, so a revoke abandons it."""

    max_batch_size = 5

    def __init__(self, out: str, *, block: bool) -> None:
        self.out = out
        self.release = threading.Event()
        if not block:
            self.release.set()
        self.handled: list[int] = []
        self._lock = threading.Lock()

    def handle_batch(self, batch: Sequence[Message[int]]) -> Sequence[Outcome]:
        if any(m.value in (4, 5) for m in batch):
            self.release.wait(60)
        with self._lock:
            self.handled.extend(m.value for m in batch)
        return [Processed((OutputMessage(self.out, str(m.value).encode(), m.key),)) for m in batch]


def _produce(kafka: str, topic: str, values: Sequence[int], key: str | None = None) -> None:
    producer = Producer({"bootstrap.servers": kafka})
    for v in values:
        producer.produce(topic, str(v).encode(), (key or f"k{v}").encode(), partition=v % 2)
    assert producer.flush(15) == 0


def test_work_abandoned_on_a_revoked_partition_that_comes_back_loses_nothing_of_its_keys(
    kafka: str,
    new_topic: Any,
    unique: Any,
    fast_group_config: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # What the sync's P7 waits met in chaos runs: a batch still running on a partition revoked
    # past the deadline (abandoned), messages of the same keys produced while the partition
    # had no owner or another one, and the partition given back to the same member while the
    # batch still runs. Those messages wait behind the abandoned batch's keys; every message
    # is handled and its output produced once the batch ends, and the batch's own outcome is
    # dropped and redone.
    caplog.set_level(logging.INFO, logger="consumer.engine.workers")
    source, out = new_topic("abandon", partitions=2), new_topic("abandon-out", partitions=2)
    _produce(kafka, source, range(20))
    group = unique("g")
    first = _Blocking(out, block=True)
    fast = {"workers": 2, "revoke_deadline_s": 1.0}
    one = Running(make_engine(kafka, source, group, first, fast_group_config, **fast))
    two: Running | None = None
    second = _Blocking(out, block=False)
    try:
        wait_until(lambda: len(one.engine.assignment) == 2, 60, "the first member's partitions")
        two = Running(make_engine(kafka, source, group, second, fast_group_config, **fast))
        wait_until(lambda: len(one.engine.assignment) < 2, 60, "a revoke from the first member")
        # Same keys as the blocked batches (k4 on partition 0, k5 on 1), while the revoked
        # partition has no owner yet or the second member.
        _produce(kafka, source, [100, 102], key="k4")
        _produce(kafka, source, [101, 103], key="k5")
        two.stop()
        two = None
        wait_until(lambda: len(one.engine.assignment) == 2, 60, "the partition to come back")
        _produce(kafka, source, [104], key="k4")
        _produce(kafka, source, [105], key="k5")
        _produce(kafka, source, range(20, 30))
        first.release.set()
        wait_until(
            lambda: committed_offsets(kafka, group, source, 2) == end_of(kafka, source, 2),
            60,
            "every message to be committed",
        )
    finally:
        first.release.set()
        if two is not None:
            two.stop()
        one.stop()

    expected = {*range(30), *range(100, 106)}
    assert {*first.handled, *second.handled} >= expected
    produced = {int(r.value()) for r in read_topic(kafka, out, 2, len(expected))}
    assert produced >= expected, sorted(expected - produced)
    assert "batch ended after its partition was revoked" in caplog.text
