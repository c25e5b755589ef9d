"""Reading and rewriting a consumer group's committed offsets through the admin API.

The admin API needs no group membership, so it works on a stopped group without
joining it (a consumer that joined would itself make the group active).
"""

from __future__ import annotations

from collections.abc import Mapping

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient

from cpqsync.app.ops.group_activity import GroupActiveError

PartitionKey = tuple[str, int]

# What a broker answers to an offset commit for a group that has members.
_ACTIVE_GROUP_ERRORS = frozenset(
    {KafkaError.UNKNOWN_MEMBER_ID, KafkaError.REBALANCE_IN_PROGRESS, KafkaError.ILLEGAL_GENERATION}
)


class OffsetChangeError(RuntimeError):
    """The broker refused some of the new offsets."""


def committed_offsets(
    admin: AdminClient, group: str, timeout_s: float = 10.0
) -> dict[PartitionKey, int]:
    """Every partition the group has an offset committed for (negative offsets left out)."""
    return committed_offsets_of(admin, [group], timeout_s)[group]


def committed_offsets_of(
    admin: AdminClient, groups: list[str], timeout_s: float = 10.0
) -> dict[str, dict[PartitionKey, int]]:
    """``committed_offsets`` for many groups, asked concurrently (one request per group)."""
    futures = {
        group: admin.list_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(group)], request_timeout=timeout_s
        )[group]
        for group in groups
    }
    return {
        group: {
            (tp.topic, tp.partition): tp.offset
            for tp in future.result().topic_partitions or []
            if tp.offset >= 0 and tp.error is None
        }
        for group, future in futures.items()
    }


def set_committed_offsets(
    admin: AdminClient,
    group: str,
    offsets: Mapping[PartitionKey, int],
    timeout_s: float = 10.0,
) -> None:
    """Commit ``offsets`` for ``group``; raises if the broker refuses any partition."""
    partitions = [TopicPartition(topic, part, offset) for (topic, part), offset in offsets.items()]
    request = [ConsumerGroupTopicPartitions(group, partitions)]
    result = admin.alter_consumer_group_offsets(request, request_timeout=timeout_s)[group].result()
    refused = [tp for tp in result.topic_partitions or [] if tp.error is not None]
    if not refused:
        return
    if any(tp.error.code() in _ACTIVE_GROUP_ERRORS for tp in refused):
        raise GroupActiveError(
            f"consumer group {group!r} became active while its offsets were being reset; "
            "nothing was applied for the refused partitions: stop the group and run replay again"
        )
    details = ", ".join(f"{tp.topic}[{tp.partition}]: {tp.error.str()}" for tp in refused)
    raise OffsetChangeError(f"the broker refused new offsets for {details}")
