"""Gathering ``cpqsync status``: one read-only look at every part of a deployment."""

from __future__ import annotations

import datetime as dt

from confluent_kafka.admin import AdminClient

from cpqsync.app.ops.checkpoint_ages import checkpoint_ages
from cpqsync.app.ops.dead_letter_topic import dlq_bounds
from cpqsync.app.ops.group_lag import deployment_groups, group_lag, named_groups
from cpqsync.app.ops.last_errors import last_errors
from cpqsync.app.ops.live_sync import live_sync_state
from cpqsync.app.ops.partition_bounds import UnknownTopicError
from cpqsync.app.ops.status_report import DlqDepth, StatusReport
from cpqsync.kafka.clients import admin_config
from cpqsync.kafka.topics import Topics
from cpqsync.settings import Settings
from schemas.codec import Codec


def gather_status(
    settings: Settings,
    bootstrap: str,
    groups: list[str] | None = None,
    error_limit: int = 5,
    timeout_s: float = 30.0,
) -> StatusReport:
    """``groups`` None: every group that has committed on this deployment's topics."""
    kafka = settings.kafka
    extra = dict(kafka.client_config)
    topics = Topics(kafka.topic_prefix)
    codec = Codec.from_settings(kafka)
    now = dt.datetime.now(dt.UTC)
    admin = AdminClient(admin_config(bootstrap, extra))
    offsets = (
        named_groups(admin, groups, topics.prefix)
        if groups
        else deployment_groups(admin, topics.prefix)
    )
    return StatusReport(
        generated_at=now,
        topic_prefix=topics.prefix,
        groups=group_lag(bootstrap, admin, offsets, extra_config=extra),
        checkpoints=checkpoint_ages(
            bootstrap, topics.bridge_checkpoints, codec, now, timeout_s, extra
        ),
        dlq=_dlq_depth(bootstrap, topics.dlq, extra),
        live_sync=live_sync_state(settings, bootstrap, topics.control, timeout_s, extra),
        last_errors=last_errors(
            bootstrap,
            topics.sync_results,
            codec,
            error_limit,
            timeout_s=timeout_s,
            extra_config=extra,
        ),
    )


def _dlq_depth(bootstrap: str, topic: str, extra: dict[str, str | int | float | bool]) -> DlqDepth:
    try:
        bounds = dlq_bounds(bootstrap, topic, extra_config=extra)
    except UnknownTopicError:
        return DlqDepth(topic=topic, exists=False, depth=0, by_partition={})
    by_partition = {part: bound.size for (_, part), bound in sorted(bounds.items())}
    return DlqDepth(
        topic=topic, exists=True, depth=sum(by_partition.values()), by_partition=by_partition
    )
