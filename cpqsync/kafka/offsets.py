"""End offsets that are right on every Kafka-protocol broker.

Tansu (the embedded broker) reports a partition's high watermark as the base
offset of its last record batch plus one, ignoring the rest of that batch. Lag,
``cpqsync status`` and tests that compare committed offsets with end offsets
would be wrong with it, so we read the last batch and take the offset after its
last record. On Apache Kafka the read confirms the watermark and costs one fetch.
"""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, KafkaError, TopicPartition

from cpqsync.kafka.clients import admin_config


def end_offsets(
    bootstrap_servers: str,
    partitions: list[TopicPartition],
    timeout: float = 10.0,
    extra_config: dict[str, str | int | float | bool] | None = None,
) -> dict[tuple[str, int], int]:
    """Offset after the last record of each partition (0 for an empty one)."""
    consumer = Consumer(
        {
            **admin_config(bootstrap_servers, extra_config),
            "group.id": f"cpqsync-offsets-{uuid.uuid4()}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "isolation.level": "read_uncommitted",
        }
    )
    try:
        result: dict[tuple[str, int], int] = {}
        to_scan: list[TopicPartition] = []
        for tp in partitions:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(tp.topic, tp.partition), timeout=timeout, cached=False
            )
            result[(tp.topic, tp.partition)] = high
            if high > low:
                to_scan.append(TopicPartition(tp.topic, tp.partition, high - 1))
        if to_scan:
            _scan_tails(consumer, to_scan, result, timeout)
        return result
    finally:
        consumer.close()


def _scan_tails(
    consumer: Consumer,
    to_scan: list[TopicPartition],
    result: dict[tuple[str, int], int],
    timeout: float,
) -> None:
    consumer.assign(to_scan)
    pending = {(tp.topic, tp.partition) for tp in to_scan}
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        msg = consumer.poll(0.2)
        if msg is None:
            continue
        key = (str(msg.topic()), int(msg.partition() or 0))
        error = msg.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:  # the tail has been read
                pending.discard(key)
            continue
        result[key] = max(result[key], int(msg.offset() or 0) + 1)
