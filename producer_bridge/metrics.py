"""The bridge's Prometheus metrics (``cpqsync_bridge_*``), registered once per process.

Labels are channels, change types and reasons: never record ids, tokens or
anything else unbounded or secret.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_RECEIVED = Counter(
    "cpqsync_bridge_events_received",
    "Salesforce events received from the Pub/Sub API.",
    ["channel"],
)
EVENTS_PRODUCED = Counter(
    "cpqsync_bridge_events_produced",
    "ChangeEvents acknowledged by Kafka, per Salesforce change type.",
    ["channel", "change_type"],
)
EVENTS_UNROUTED = Counter(
    "cpqsync_bridge_events_unrouted",
    "Change events for objects that have no cpqsync topic (skipped).",
    ["channel", "object_type"],
)
DECODE_ERRORS = Counter(
    "cpqsync_bridge_decode_errors",
    "Payloads that could not be decoded and went to the dead-letter topic.",
    ["channel"],
)
RECONNECTS = Counter(
    "cpqsync_bridge_reconnects",
    "Subscriptions re-established after an error or disconnect.",
    ["channel", "reason"],
)
INVALID_REPLAY_IDS = Counter(
    "cpqsync_bridge_invalid_replay_ids",
    "Stored replay ids Salesforce rejected as corrupted or outside retention.",
    ["channel"],
)
LIMIT_EXCEEDED = Counter(
    "cpqsync_bridge_limit_exceeded",
    "Times Salesforce refused delivery because the event allocation is spent.",
    ["channel"],
)
LIMIT_BACKOFF = Gauge(
    "cpqsync_bridge_limit_backoff",
    "1 while the channel waits because the delivery allocation is spent (alert on it).",
    ["channel"],
)
CHECKPOINT_LAG = Gauge(
    "cpqsync_bridge_checkpoint_lag_seconds",
    "Seconds since the checkpointed replay id was current: its event's commit time, or the "
    "keepalive that confirmed it while the channel was idle (alert well before 72 h).",
    ["channel"],
)
CHECKPOINTS_WRITTEN = Counter(
    "cpqsync_bridge_checkpoints_written",
    "Replay-id checkpoints written to the checkpoint topic.",
    ["channel"],
)
PRODUCE_LATENCY = Histogram(
    "cpqsync_bridge_produce_latency_seconds",
    "Time from producing a ChangeEvent to Kafka's acknowledgement.",
    ["channel"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
SCHEMA_FETCHES = Counter(
    "cpqsync_bridge_schema_fetches",
    "GetSchema calls for schema ids not seen before.",
)


def prime(channel: str) -> None:
    """Export the channel's counters and alert gauges at 0 before anything happens, so the
    first dead letter or rejected replay id shows in a rate and alerts have a series."""
    for collector in (DECODE_ERRORS, INVALID_REPLAY_IDS, LIMIT_EXCEEDED, LIMIT_BACKOFF):
        collector.labels(channel)
    EVENTS_RECEIVED.labels(channel)


BACKFILL_RECORDS = Counter(
    "cpqsync_bridge_backfill_records",
    "SNAPSHOT events published by backfill.",
    ["object_type"],
)
LEADER = Gauge(
    "cpqsync_bridge_leader",
    "1 while this replica streams its channels, 0 while it waits as a standby.",
)
LEASE_CHANGES = Counter(
    "cpqsync_bridge_lease_changes",
    "Bridge lease acquired or given up (revoked, lost, shutting down).",
    ["event"],
)
