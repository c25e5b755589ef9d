"""What ``cpqsync status`` reports, as data: rendered as tables or dumped as JSON."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict


class _Report(BaseModel):
    model_config = ConfigDict(frozen=True)


class PartitionLag(_Report):
    topic: str
    partition: int
    committed: int | None  # None: the group has not committed here yet
    end: int
    lag: int  # records after the committed offset (from the log start when none)


class GroupLag(_Report):
    group: str
    state: str
    partitions: list[PartitionLag]

    @property
    def total_lag(self) -> int:
        return sum(p.lag for p in self.partitions)


class ChannelCheckpoint(_Report):
    channel: str
    replay_id: str  # hex
    commit_timestamp: dt.datetime | None
    updated_at: dt.datetime
    # now - when the replay id was current (its event's commit time; the write time when idle)
    position_age_s: float | None
    written_age_s: float  # now - when the bridge wrote the checkpoint


class DlqDepth(_Report):
    topic: str
    exists: bool
    depth: int
    by_partition: dict[int, int]


class LiveSyncState(_Report):
    configured: bool  # sync.live in this process's settings
    runtime: str  # "on", "off" or "unknown"
    source: str  # where the runtime value came from, or why it is unknown


class RecentError(_Report):
    attempted_at: dt.datetime
    primary_object_type: str
    primary_record_id: str
    message: str
    partition: int
    offset: int


class StatusReport(_Report):
    generated_at: dt.datetime
    topic_prefix: str
    groups: list[GroupLag]
    checkpoints: list[ChannelCheckpoint]
    dlq: DlqDepth
    live_sync: LiveSyncState
    last_errors: list[RecentError]
