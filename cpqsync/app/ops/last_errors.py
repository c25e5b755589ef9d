"""The most recent Error results, read from the tail of the results topic.

Only a bounded tail per partition is read, so the command stays fast on a
results topic of any size; older errors are in Salesforce as Sync Records.
"""

from __future__ import annotations

from typing import Any

from cpqsync.app.ops.partition_bounds import partition_bounds, probe_consumer, topic_partitions
from cpqsync.app.ops.range_reader import RangeReader
from cpqsync.app.ops.status_report import RecentError
from schemas.codec import Codec, SchemaDecodeError
from schemas.models import SyncResult, SyncStatus


def last_errors(
    bootstrap: str,
    topic: str,
    codec: Codec,
    limit: int = 5,
    tail_per_partition: int = 500,
    timeout_s: float = 30.0,
    extra_config: dict[str, Any] | None = None,
) -> list[RecentError]:
    """Up to ``limit`` newest Error results in the last ``tail_per_partition`` records."""
    probe = probe_consumer(bootstrap, extra_config)
    try:
        if topic not in probe.list_topics(timeout=timeout_s).topics:
            return []
        keys = topic_partitions(probe, [topic], timeout_s)
    finally:
        probe.close()
    bounds = partition_bounds(bootstrap, keys, timeout_s, extra_config)
    ranges = {k: (max(b.low, b.end - tail_per_partition), b.end) for k, b in bounds.items()}
    errors: list[RecentError] = []
    for message in RangeReader(bootstrap, ranges, timeout_s, extra_config):
        try:
            result = codec.decode_as(message.value(), topic, SyncResult)
        except SchemaDecodeError:
            continue  # not ours to judge here; the writeback consumer dead-letters it
        if result.status is SyncStatus.ERROR:
            errors.append(
                RecentError(
                    attempted_at=result.attempted_at,
                    primary_object_type=result.primary_object_type,
                    primary_record_id=result.primary_record_id,
                    message=result.message,
                    partition=int(message.partition() or 0),
                    offset=int(message.offset() or 0),
                )
            )
    errors.sort(key=lambda error: error.attempted_at, reverse=True)
    return errors[:limit]
