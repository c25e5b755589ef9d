"""Consumer lag per partition from librdkafka's statistics, corrected for Tansu.

librdkafka reports each partition's high watermark (``hi_offset``). Tansu, the
embedded broker, reports the base offset of the last record batch plus one, so
its lag reads low by up to a batch. We take the larger of the reported
watermark and the offset after the last message we fetched ourselves; on
Apache Kafka the reported one is already the larger.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from consumer.engine.messages import PartitionId

# (high watermark, committed offset) as librdkafka reports them; -1 when unknown.
ReportedOffsets = tuple[int, int]


def reported_offsets(statistics_json: str) -> dict[PartitionId, ReportedOffsets]:
    stats = json.loads(statistics_json)
    result: dict[PartitionId, ReportedOffsets] = {}
    for topic, topic_stats in stats.get("topics", {}).items():
        for partition, part in topic_stats.get("partitions", {}).items():
            number = int(partition)
            if number >= 0:  # -1 is librdkafka's internal "unassigned" partition
                result[(topic, number)] = (
                    int(part.get("hi_offset", -1)),
                    int(part.get("committed_offset", -1)),
                )
    return result


def lag(
    reported: Mapping[PartitionId, ReportedOffsets],
    fetched_until: Mapping[PartitionId, int | None],
    committed: Mapping[PartitionId, int],
) -> dict[PartitionId, int]:
    """Messages not yet committed, for each partition in ``fetched_until`` (the assigned ones).

    ``fetched_until`` is the offset after the last message fetched; ``committed``
    what this member committed (librdkafka's figure is used before its first commit).
    """
    result: dict[PartitionId, int] = {}
    for partition, next_fetch in fetched_until.items():
        high, reported_committed = reported.get(partition, (-1, -1))
        done = committed.get(partition, reported_committed)
        if done < 0:
            continue  # nothing committed yet: the start is unknown, do not guess
        end = max(high, next_fetch or 0)
        result[partition] = max(0, end - done)
    return result
