"""The first offset of each partition at or after a moment, as ``offsets_for_times`` defines it.

Apache Kafka answers from its time index. Tansu answers the log start whatever
the time, so the broker's answer is treated as a lower bound and confirmed by
reading forward to the first record whose timestamp is at or after the moment:
one record read on Kafka, a scan of the partition on Tansu.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, TopicPartition

from cpqsync.app.ops.partition_bounds import Bounds, PartitionKey, probe_consumer
from cpqsync.app.ops.range_reader import RangeReader


def offsets_at(
    bootstrap: str,
    bounds: Mapping[PartitionKey, Bounds],
    moment: dt.datetime,
    timeout_s: float = 30.0,
    extra_config: dict[str, Any] | None = None,
) -> dict[PartitionKey, int]:
    """Per partition: the earliest offset with a timestamp >= ``moment`` (the end when none)."""
    if moment.tzinfo is None:
        raise ValueError("a replay moment needs a timezone")
    millis = int(moment.timestamp() * 1000)
    candidates = _broker_answers(bootstrap, bounds, millis, timeout_s, extra_config)
    result = {key: bound.end for key, bound in bounds.items()}
    reader = RangeReader(
        bootstrap,
        {key: (candidates[key], bounds[key].end) for key in bounds},
        timeout_s,
        extra_config,
    )
    for message in reader:
        kind, stamp = message.timestamp()
        if kind != TIMESTAMP_NOT_AVAILABLE and stamp >= millis:
            key = (str(message.topic()), int(message.partition() or 0))
            result[key] = int(message.offset() or 0)
            reader.finish(key)
    return result


def _broker_answers(
    bootstrap: str,
    bounds: Mapping[PartitionKey, Bounds],
    millis: int,
    timeout_s: float,
    extra_config: dict[str, Any] | None,
) -> dict[PartitionKey, int]:
    if not bounds:
        return {}
    consumer = probe_consumer(bootstrap, extra_config)
    try:
        answers = consumer.offsets_for_times(
            [TopicPartition(t, p, millis) for t, p in bounds], timeout=timeout_s
        )
    finally:
        consumer.close()
    result: dict[PartitionKey, int] = {}
    for tp in answers:
        key = (tp.topic, tp.partition)
        bound = bounds[key]
        # -1: no record that late. Errors: fall back to scanning the whole partition.
        if tp.error is not None:
            result[key] = bound.low
        else:
            result[key] = bound.end if tp.offset < 0 else bound.clamp(tp.offset)
    return result
