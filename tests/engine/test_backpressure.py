"""Handlers that block for longer than max.poll.interval.ms neither get the member expelled
nor make the engine buffer without bound."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from consumer.engine import BatchHandler, Message, Outcome, Processed
from tests.engine.support import (
    Running,
    committed_offsets,
    end_of,
    make_engine,
    produce_keyed,
    wait_until,
)

pytestmark = pytest.mark.integration


class BlockingHandler(BatchHandler[int]):
    """The first ``blocked`` messages each hold a worker until released (every worker, here)."""

    max_batch_size = 1

    def __init__(self, blocked: int) -> None:
        self.release = threading.Event()
        self.blocked_now = 0
        self.handled = 0
        self._blocked_left = blocked
        self._lock = threading.Lock()

    def handle_batch(self, batch: Sequence[Message[int]]) -> Sequence[Outcome]:
        with self._lock:
            block = self._blocked_left > 0
            self._blocked_left -= 1
            if block:
                self.blocked_now += 1
        if block:
            self.release.wait(120)
        with self._lock:
            self.handled += len(batch)
        return [Processed()] * len(batch)


def _block_every_worker_for(
    seconds: float, kafka: str, topic: str, group: str, fast: dict[str, Any]
) -> None:
    registry = CollectorRegistry()
    handler = BlockingHandler(blocked=2)
    engine = make_engine(
        kafka,
        topic,
        group,
        handler,
        fast,
        workers=2,
        max_in_flight=300,
        max_buffered_per_partition=200,
        engine_kwargs={"registry": registry},
    )
    running = Running(engine)
    try:
        wait_until(lambda: handler.blocked_now == 2, 60, "both workers to block")
        assignment = sorted(engine.assignment)
        blocked_until = time.monotonic() + seconds
        while time.monotonic() < blocked_until:
            assert engine.buffered <= 300, f"buffered {engine.buffered} > the 300 bound"
            time.sleep(0.2)
        assert sorted(engine.assignment) == assignment
        for event in ("revoked", "lost"):
            count = registry.get_sample_value(
                "cpqsync_engine_rebalance_events_total", {"group": group, "event": event}
            )
            assert not count, f"the member was {event} while its handler blocked"
        assert engine.max_buffered_seen <= 300
        assert engine.max_buffered_seen >= 200, "the engine kept fetching while blocked"
        handler.release.set()
        wait_until(lambda: handler.handled >= 2000, 60, "the backlog")
        wait_until(
            lambda: committed_offsets(kafka, group, topic, 2) == end_of(kafka, topic, 2),
            10,
            "the final commit",
        )
    finally:
        handler.release.set()
        running.stop()


def test_blocking_longer_than_max_poll_interval_keeps_membership(
    kafka: str, new_topic: Any, unique: Any, fast_group_config: dict[str, Any]
) -> None:
    topic = new_topic("bp", partitions=2)
    produce_keyed(kafka, topic, 2000, 50)
    # A 4 s max.poll.interval.ms, and every worker blocked for half as long again.
    config = {**fast_group_config, "max.poll.interval.ms": 4_000}
    _block_every_worker_for(6, kafka, topic, unique("g"), config)


@pytest.mark.slow
def test_blocking_thirty_seconds_keeps_membership(
    kafka: str, new_topic: Any, unique: Any, fast_group_config: dict[str, Any]
) -> None:
    topic = new_topic("bp", partitions=2)
    produce_keyed(kafka, topic, 2000, 50)
    _block_every_worker_for(30, kafka, topic, unique("g"), fast_group_config)
