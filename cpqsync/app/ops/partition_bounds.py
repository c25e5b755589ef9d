"""The partitions of some topics and the range of offsets each one holds.

Replay targets and lag are only right against the *true* end offset, which
``cpqsync.kafka.offsets.end_offsets`` reads (Tansu's watermark can undercount);
the low watermark is the broker's, since retention moves it and nothing else.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from cpqsync.kafka.clients import admin_config
from cpqsync.kafka.offsets import end_offsets

PartitionKey = tuple[str, int]


class UnknownTopicError(LookupError):
    """A topic named by the operator does not exist on the cluster."""


@dataclass(frozen=True)
class Bounds:
    """Offsets ``low`` (first retained) to ``end`` (after the last record)."""

    low: int
    end: int

    @property
    def size(self) -> int:
        return max(0, self.end - self.low)

    def clamp(self, offset: int) -> int:
        return min(max(offset, self.low), self.end)


def probe_consumer(bootstrap: str, extra_config: dict[str, Any] | None = None) -> Consumer:
    """A consumer that never joins or commits: it only reads metadata and records."""
    return Consumer(
        {
            **admin_config(bootstrap, extra_config),
            "group.id": f"cpqsync-ops-{uuid.uuid4()}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )


def topic_partitions(
    consumer: Consumer, topics: Iterable[str], timeout_s: float = 10.0
) -> list[PartitionKey]:
    """Every partition of ``topics``; ``UnknownTopicError`` names the missing ones."""
    metadata = consumer.list_topics(timeout=timeout_s).topics
    missing = [name for name in topics if name not in metadata or metadata[name].error]
    if missing:
        raise UnknownTopicError(f"no such topic: {', '.join(sorted(missing))}")
    return sorted((name, part) for name in topics for part in metadata[name].partitions)


def partition_bounds(
    bootstrap: str,
    partitions: Iterable[PartitionKey],
    timeout_s: float = 10.0,
    extra_config: dict[str, Any] | None = None,
) -> dict[PartitionKey, Bounds]:
    keys = list(partitions)
    if not keys:
        return {}
    ends = end_offsets(bootstrap, [TopicPartition(t, p) for t, p in keys], timeout_s, extra_config)
    consumer = probe_consumer(bootstrap, extra_config)
    try:
        bounds: dict[PartitionKey, Bounds] = {}
        for topic, part in keys:
            low, _high = consumer.get_watermark_offsets(
                TopicPartition(topic, part), timeout=timeout_s, cached=False
            )
            bounds[(topic, part)] = Bounds(low=max(0, low), end=ends[(topic, part)])
        return bounds
    finally:
        consumer.close()
