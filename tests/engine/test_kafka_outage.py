"""A broker that stops answering is an outage too: outputs it does not acknowledge leave their
offsets waiting (not committed, not failed), the engine holds its work and reports Kafka down,
and once the broker answers again the outputs are delivered and the offsets committed, without
the engine stopping. A private broker is frozen (SIGSTOP) so no other test is disturbed."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from consumer.engine import BatchHandler, Message, Outcome, OutputMessage, Processed
from cpqsync.kafka.topics import ensure_topics
from cpqsync.settings import KafkaSettings
from cpqsync_sandbox.broker import EmbeddedBroker
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


@pytest.fixture
def private_broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as broker:
        yield broker
        os.kill(broker.pid or 0, signal.SIGCONT)  # never leave it frozen for its own stop


class _Echo(BatchHandler[int]):
    max_batch_size = 10

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.handled = 0
        self._lock = threading.Lock()

    def handle_batch(self, batch: Sequence[Message[int]]) -> Sequence[Outcome]:
        time.sleep(0.02)
        with self._lock:
            self.handled += len(batch)
        return [Processed([OutputMessage(self.topic, str(m.value).encode(), m.key)]) for m in batch]


def test_a_frozen_broker_is_waited_out_and_nothing_is_lost(
    private_broker: EmbeddedBroker,
    fast_group_config: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    kafka = private_broker.bootstrap_servers
    ensure_topics(kafka, {"in": {}, "out": {}}, partitions=1)
    produce_keyed(kafka, "in", 600, 20)
    echo = _Echo("out")
    registry = CollectorRegistry()
    engine = make_engine(
        kafka,
        "in",
        "g-frozen",
        echo,
        fast_group_config,
        workers=4,
        revoke_deadline_s=2,  # how long a commit waits for the broker's acknowledgements
        retry_initial_backoff_ms=200,
        retry_max_backoff_ms=1_000,
        kafka_settings=KafkaSettings(bootstrap_servers=kafka),
        engine_kwargs={"registry": registry},
    )
    caplog.set_level(logging.INFO, logger="consumer.engine.dependencies")

    def kafka_up() -> float | None:
        return registry.get_sample_value(
            "cpqsync_dependency_up", {"group": "g-frozen", "dependency": "kafka"}
        )

    running = Running(engine)
    try:
        wait_until(lambda: echo.handled >= 100, 60, "the first outputs")
        os.kill(private_broker.pid or 0, signal.SIGSTOP)
        wait_until(lambda: "kafka" in engine.health.down(), 30, "Kafka to be reported down")
        assert kafka_up() == 0 and not engine.is_ready()
        handled = echo.handled
        time.sleep(3)
        assert echo.handled == handled, "no new work while outputs cannot be delivered"
        os.kill(private_broker.pid or 0, signal.SIGCONT)
        wait_until(lambda: kafka_up() == 1, 30, "Kafka to be reported back")
        wait_until(
            lambda: committed_offsets(kafka, "g-frozen", "in", 1) == end_of(kafka, "in", 1),
            90,
            "every offset to be committed after the broker came back",
        )
    finally:
        running.stop()  # re-raises a fatal engine error: there must be none

    outputs = {int(m.value()) for m in read_topic(kafka, "out", 1, expect=600, timeout=30)}
    assert outputs == set(range(600)), "every output delivered (at least once)"
    lines = [r.getMessage() for r in caplog.records if r.name == "consumer.engine.dependencies"]
    assert [m for m in lines if m.startswith("kafka is down")], lines
    assert "Check kafka.bootstrap_servers" in next(m for m in lines if "is down" in m)
