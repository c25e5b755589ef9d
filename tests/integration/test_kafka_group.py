"""The foundation's promise: a real broker on which a consumer group shares work exactly once."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from cpqsync.kafka.offsets import end_offsets

pytestmark = pytest.mark.integration


def _member(
    kafka: str,
    group: str,
    topic: str,
    fast: dict[str, Any],
    seen: list[tuple[str, int, int, int]],
    stop: threading.Event,
    lock: threading.Lock,
) -> None:
    consumer = Consumer(
        {
            "bootstrap.servers": kafka,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            **fast,
        }
    )
    consumer.subscribe([topic])
    try:
        while not stop.is_set():
            msg = consumer.poll(0.2)
            if msg is None or msg.error():
                continue
            with lock:
                seen.append((msg.key().decode(), int(msg.value()), msg.partition(), msg.offset()))
            consumer.commit(message=msg, asynchronous=False)
    finally:
        consumer.close()


def test_two_member_group_consumes_each_message_once_in_key_order(
    kafka: str, new_topic: Any, unique: Any, fast_group_config: dict[str, Any]
) -> None:
    topic = new_topic("group", partitions=4)
    producer = Producer({"bootstrap.servers": kafka, "enable.idempotence": True, "acks": "all"})
    for i in range(1000):
        producer.produce(topic, key=f"k{i % 37}".encode(), value=str(i).encode())
    assert producer.flush(30) == 0

    group = unique("g")
    seen: list[tuple[str, int, int, int]] = []
    stop, lock = threading.Event(), threading.Lock()
    members = [
        threading.Thread(
            target=_member, args=(kafka, group, topic, fast_group_config, seen, stop, lock)
        )
        for _ in range(2)
    ]
    for member in members:
        member.start()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        with lock:
            if len(seen) >= 1000:
                break
        time.sleep(0.2)
    time.sleep(1.0)  # let a duplicate, if any, show up before stopping
    stop.set()
    for member in members:
        member.join(timeout=30)

    values = [value for _, value, _, _ in seen]
    assert sorted(values) == list(range(1000)), "each message consumed exactly once"
    by_key: dict[str, list[int]] = defaultdict(list)
    for key, value, _, _ in seen:
        by_key[key].append(value)
    for key, key_values in by_key.items():
        assert key_values == sorted(key_values), f"key {key} out of order"

    partitions = [TopicPartition(topic, p) for p in range(4)]
    probe = Consumer({"bootstrap.servers": kafka, "group.id": group})
    committed = {(tp.topic, tp.partition): tp.offset for tp in probe.committed(partitions, 10)}
    probe.close()
    assert committed == end_offsets(kafka, partitions)
