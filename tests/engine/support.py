"""Helpers for the engine's integration tests: producing test data, a recording handler."""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition

from consumer.engine import (
    BatchHandler,
    ConsumerEngine,
    Message,
    Outcome,
    Processed,
)
from consumer.engine_settings import engine_settings, kafka_clients
from cpqsync.kafka.offsets import end_offsets
from cpqsync.settings import ConsumerSettings, KafkaSettings


def produce_keyed(
    kafka: str, topic: str, count: int, keys: int, *, start: int = 0
) -> dict[str, list[int]]:
    """Produce values start.. with key k<i % keys>; return each key's values in order."""
    producer = Producer({"bootstrap.servers": kafka, "enable.idempotence": True, "linger.ms": 20})
    expected: dict[str, list[int]] = defaultdict(list)
    for i in range(start, start + count):
        key = f"k{i % keys}"
        expected[key].append(i)
        producer.produce(topic, key=key.encode(), value=str(i).encode())
        if i % 1000 == 0:
            producer.poll(0)
    assert producer.flush(30) == 0
    return expected


def decode_int(message: Message[bytes | None]) -> int:
    assert message.value is not None
    return int(message.value)


@dataclass
class Recorder(BatchHandler[int]):
    """Records every handled message and checks no key ever runs twice at once."""

    latency: Callable[[], float] = lambda: 0.0
    max_batch_size: int = 1
    handled: list[tuple[str, int, int, int]] = field(default_factory=list)
    overlaps: list[str] = field(default_factory=list)
    _running: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handle_batch(self, batch: Sequence[Message[int]]) -> Sequence[Outcome]:
        keys = [m.key.decode() if m.key else "" for m in batch]
        with self._lock:
            for key in keys:
                if key in self._running:
                    self.overlaps.append(key)
                self._running.add(key)
        delay = self.latency()
        if delay:
            time.sleep(delay)
        with self._lock:
            for key, message in zip(keys, batch, strict=True):
                self._running.discard(key)
                self.handled.append((key, message.value, message.partition, message.offset))
        return [Processed()] * len(batch)

    def count(self) -> int:
        with self._lock:
            return len(self.handled)

    def by_key(self) -> dict[str, list[int]]:
        result: dict[str, list[int]] = defaultdict(list)
        with self._lock:
            for key, value, _, _ in self.handled:
                result[key].append(value)
        return result


def random_latency(low: float, high: float, seed: int = 7) -> Callable[[], float]:
    rng = random.Random(seed)
    lock = threading.Lock()

    def draw() -> float:
        with lock:
            return rng.uniform(low, high)

    return draw


def make_engine(
    kafka: str,
    topic: str | list[str],
    group: str,
    handler: BatchHandler[Any],
    fast: dict[str, Any],
    *,
    decode: Callable[[Message[bytes | None]], Any] = decode_int,
    kafka_settings: KafkaSettings | None = None,
    **settings: Any,
) -> ConsumerEngine[Any]:
    extra = settings.pop("engine_kwargs", {})
    consumer = ConsumerSettings(**{"commit_interval_ms": 200, **settings})
    return ConsumerEngine(
        topics=[topic] if isinstance(topic, str) else topic,
        group_id=group,
        handler=handler,
        decode=decode,
        kafka=kafka_clients(kafka_settings or KafkaSettings(bootstrap_servers=kafka), consumer),
        settings=engine_settings(consumer),
        client_config=fast,
        **extra,
    )


class Running:
    """Runs an engine on a thread; ``stop()`` joins it and re-raises what ``run`` raised."""

    def __init__(self, engine: ConsumerEngine[Any]) -> None:
        self.engine = engine
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.engine.run()
        except BaseException as exc:
            self.error = exc

    def stop(self, timeout: float = 30) -> None:
        self.engine.request_stop()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "engine did not stop within its deadline"
        if self.error is not None:
            raise self.error


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def committed_offsets(
    kafka: str, group: str, topic: str, partitions: int
) -> dict[tuple[str, int], int]:
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    probe = Consumer({"bootstrap.servers": kafka, "group.id": group})
    try:
        return {(tp.topic, tp.partition): tp.offset for tp in probe.committed(tps, 10)}
    finally:
        probe.close()


def end_of(kafka: str, topic: str, partitions: int) -> dict[tuple[str, int], int]:
    return end_offsets(kafka, [TopicPartition(topic, p) for p in range(partitions)])


def assert_key_order(by_key: dict[str, list[int]], expected: dict[str, list[int]]) -> None:
    """Each key's first handlings follow its production order (replays may repeat a suffix)."""
    for key, values in expected.items():
        seen: list[int] = []
        for value in by_key.get(key, []):
            if value not in seen:
                seen.append(value)
        assert seen == values, f"key {key}: handled {seen[:10]}... expected {values[:10]}..."


def read_topic(
    kafka: str, topic: str, partitions: int, expect: int, timeout: float = 20
) -> list[Any]:
    """Read ``topic`` from the start (committed transactions only) until ``expect`` records.

    Waits a moment past ``expect`` so an unexpected extra record would be seen too.
    """
    consumer = Consumer(
        {
            "bootstrap.servers": kafka,
            "group.id": f"reader-{time.monotonic_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    records: list[Any] = []
    deadline = time.monotonic() + timeout
    settle_until: float | None = None
    try:
        while time.monotonic() < deadline:
            if settle_until is not None and time.monotonic() > settle_until:
                break
            for msg in consumer.consume(500, 0.2):
                if msg.error() is None:
                    records.append(msg)
            if len(records) >= expect and settle_until is None:
                settle_until = time.monotonic() + 1.0
    finally:
        consumer.close()
    return records
