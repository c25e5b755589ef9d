"""Rewinding (or fast-forwarding) a stopped consumer group: the backfill path out of retention.

Planning reads only, so the operator sees every partition's old and new offset
before anything changes; applying re-checks that the group is still stopped and
lets the broker refuse the commit if a member slipped in between.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from confluent_kafka.admin import AdminClient

from cpqsync.app.ops.committed_offsets import committed_offsets, set_committed_offsets
from cpqsync.app.ops.group_activity import ensure_stopped
from cpqsync.app.ops.partition_bounds import (
    PartitionKey,
    partition_bounds,
    probe_consumer,
    topic_partitions,
)
from cpqsync.app.ops.role_groups import role_topics
from cpqsync.app.ops.time_offsets import offsets_at
from cpqsync.kafka.topics import Topics


@dataclass(frozen=True)
class ToEarliest:
    def describe(self) -> str:
        return "the earliest retained offset"


@dataclass(frozen=True)
class ToOffset:
    offset: int

    def describe(self) -> str:
        return f"offset {self.offset}"


@dataclass(frozen=True)
class ToDatetime:
    moment: dt.datetime

    def describe(self) -> str:
        return f"the first record at or after {self.moment.isoformat()}"


ReplayTarget = ToEarliest | ToOffset | ToDatetime


class NoTopicsError(LookupError):
    """Nothing says which topics to rewind."""


@dataclass(frozen=True)
class ReplayRow:
    topic: str
    partition: int
    old: int | None  # None: the group never committed here
    new: int
    note: str = ""

    @property
    def key(self) -> PartitionKey:
        return (self.topic, self.partition)


@dataclass(frozen=True)
class ReplayPlan:
    group: str
    target: ReplayTarget
    rows: list[ReplayRow]

    @property
    def changes(self) -> int:
        return sum(1 for row in self.rows if row.old != row.new)


def default_topics(group: str, committed: dict[PartitionKey, int], topics: Topics) -> list[str]:
    """The topics the group committed on plus its role's topics."""
    found = sorted({topic for topic, _ in committed} | set(role_topics(group, topics)))
    if not found:
        raise NoTopicsError(
            f"consumer group {group!r} has no committed offsets; name the topics with --topic"
        )
    return found


def plan_replay(
    bootstrap: str,
    admin: AdminClient,
    group: str,
    target: ReplayTarget,
    topics: Topics,
    names: list[str] | None = None,
    timeout_s: float = 30.0,
    extra_config: dict[str, Any] | None = None,
) -> ReplayPlan:
    """The new offset of every partition of the chosen topics. Refuses an active group."""
    ensure_stopped(admin, group)
    committed = committed_offsets(admin, group)
    wanted = names or default_topics(group, committed, topics)
    probe = probe_consumer(bootstrap, extra_config)
    try:
        keys = topic_partitions(probe, wanted)
    finally:
        probe.close()
    bounds = partition_bounds(bootstrap, keys, timeout_s, extra_config)
    if isinstance(target, ToDatetime):
        new = offsets_at(bootstrap, bounds, target.moment, timeout_s, extra_config)
    elif isinstance(target, ToOffset):
        new = {key: bound.clamp(target.offset) for key, bound in bounds.items()}
    else:
        new = {key: bound.low for key, bound in bounds.items()}
    rows = []
    for key in keys:
        note = ""
        if isinstance(target, ToOffset) and new[key] != target.offset:
            note = f"clamped to the retained range {bounds[key].low}..{bounds[key].end}"
        rows.append(ReplayRow(key[0], key[1], committed.get(key), new[key], note))
    return ReplayPlan(group, target, rows)


def apply_replay(admin: AdminClient, plan: ReplayPlan) -> None:
    """Commit the plan's offsets, if the group is still stopped."""
    ensure_stopped(admin, plan.group)
    set_committed_offsets(admin, plan.group, {row.key: row.new for row in plan.rows})
