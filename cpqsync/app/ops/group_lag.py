"""Lag of consumer groups on this deployment's topics, from committed and true end offsets.

Measured from outside the group (the admin API), so it also works, and matters
most, when the group is stopped or stuck: a running member reports its own lag
as a metric, a dead one reports nothing.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka.admin import AdminClient

from cpqsync.app.ops.committed_offsets import committed_offsets_of
from cpqsync.app.ops.group_activity import group_activity
from cpqsync.app.ops.partition_bounds import partition_bounds, probe_consumer, topic_partitions
from cpqsync.app.ops.status_report import GroupLag, PartitionLag


def deployment_groups(
    admin: AdminClient, topic_prefix: str, timeout_s: float = 10.0
) -> dict[str, dict[tuple[str, int], int]]:
    """Groups with offsets committed on topics named ``<prefix>.*``, and those offsets."""
    listing = admin.list_consumer_groups(request_timeout=timeout_s).result()
    names = [listed.group_id for listed in listing.valid or []]
    every = committed_offsets_of(admin, names, timeout_s)
    ours = {group: _ours(offsets, topic_prefix) for group, offsets in every.items()}
    return {group: offsets for group, offsets in ours.items() if offsets}


def group_lag(
    bootstrap: str,
    admin: AdminClient,
    groups: dict[str, dict[tuple[str, int], int]],
    timeout_s: float = 10.0,
    extra_config: dict[str, Any] | None = None,
) -> list[GroupLag]:
    """Per group, every partition of every topic it has committed on."""
    topics = sorted({topic for offsets in groups.values() for topic, _ in offsets})
    probe = probe_consumer(bootstrap, extra_config)
    try:
        existing = set(probe.list_topics(timeout=timeout_s).topics)
        keys = topic_partitions(probe, [t for t in topics if t in existing], timeout_s)
    finally:
        probe.close()
    bounds = partition_bounds(bootstrap, keys, timeout_s, extra_config)
    result = []
    for group, offsets in sorted(groups.items()):
        group_topics = {topic for topic, _ in offsets}
        rows = []
        for key in keys:
            if key[0] not in group_topics:
                continue
            bound = bounds[key]
            committed = offsets.get(key)
            start = bound.low if committed is None else committed
            rows.append(
                PartitionLag(
                    topic=key[0],
                    partition=key[1],
                    committed=committed,
                    end=bound.end,
                    lag=max(0, bound.end - start),
                )
            )
        state = group_activity(admin, group, timeout_s).state
        result.append(GroupLag(group=group, state=state, partitions=rows))
    return result


def _ours(offsets: dict[tuple[str, int], int], prefix: str) -> dict[tuple[str, int], int]:
    return {key: value for key, value in offsets.items() if key[0].startswith(f"{prefix}.")}


def named_groups(
    admin: AdminClient, names: list[str], topic_prefix: str, timeout_s: float = 10.0
) -> dict[str, dict[tuple[str, int], int]]:
    """The named groups' offsets on this deployment's topics (empty for a group never run)."""
    every = committed_offsets_of(admin, names, timeout_s)
    return {name: _ours(offsets, topic_prefix) for name, offsets in every.items()}
