"""The engine's Prometheus metrics, ``cpqsync_engine_*``, labelled by consumer group or pacer.

Metrics are created once per registry and shared by every engine using it
(``cpqsync run`` hosts the sync and writeback consumers in one process), so
the group label tells them apart.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.registry import REGISTRY

_GROUP = ("group",)
_PARTITION = ("group", "topic", "partition")

# The label values the engine uses, so their series exist at 0 before the first event: a
# counter born at 1 on its first increment shows no rate or increase for that event.
OUTCOMES = ("processed", "given_up", "dead_lettered")
DEAD_LETTER_REASONS = ("undecodable", "retries_exhausted", "give_up_failed")
REBALANCE_EVENTS = ("assigned", "revoked", "lost")


class EngineMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.consumer_lag = Gauge(
            "cpqsync_engine_consumer_lag_messages",
            "Messages in the partition not yet committed by this group.",
            _PARTITION,
            registry=registry,
        )
        self.in_flight = Gauge(
            "cpqsync_engine_in_flight_messages",
            "Messages a worker is processing right now.",
            _GROUP,
            registry=registry,
        )
        self.buffered = Gauge(
            "cpqsync_engine_buffered_messages",
            "Messages fetched and not yet passed by the commit watermark.",
            _GROUP,
            registry=registry,
        )
        self.paused_partitions = Gauge(
            "cpqsync_engine_paused_partitions",
            "Partitions paused by backpressure.",
            _GROUP,
            registry=registry,
        )
        self.assigned_partitions = Gauge(
            "cpqsync_engine_assigned_partitions",
            "Partitions assigned to this member.",
            _GROUP,
            registry=registry,
        )
        self.commit_latency = Histogram(
            "cpqsync_engine_commit_latency_seconds",
            "Time to acknowledge outputs and commit offsets.",
            _GROUP,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        )
        self.batch_duration = Histogram(
            "cpqsync_engine_batch_duration_seconds",
            "Time a handler took for one batch.",
            _GROUP,
            registry=registry,
        )
        self.processed = Counter(
            "cpqsync_engine_messages_processed",
            "Messages finished, by outcome (processed, given_up, dead_lettered).",
            ("group", "topic", "outcome"),
            registry=registry,
        )
        self.retries = Counter(
            "cpqsync_engine_retries",
            "Attempts scheduled again after a retryable error.",
            ("group", "topic"),
            registry=registry,
        )
        self.dead_letters = Counter(
            "cpqsync_engine_dead_letters",
            "Messages sent to the dead-letter topic, by reason (undecodable, retries_exhausted, "
            "give_up_failed).",
            ("group", "topic", "reason"),
            registry=registry,
        )
        self.rebalances = Counter(
            "cpqsync_engine_rebalance_events",
            "Partition assignment changes, by event (assigned, revoked, lost).",
            ("group", "event"),
            registry=registry,
        )
        self.dependency_up = Gauge(
            "cpqsync_dependency_up",
            "1 while the dependency answers; 0 while the group holds its work because it does "
            "not (a systemic failure), until a probe finds it back.",
            ("group", "dependency"),
            registry=registry,
        )
        self.pacer_rate = Gauge(
            "cpqsync_engine_pacer_rate_per_second",
            "Current request rate a pacer allows (lowered by 429s, recovering additively).",
            ("pacer",),
            registry=registry,
        )
        self.pacer_ceiling = Gauge(
            "cpqsync_engine_pacer_ceiling_per_second",
            "The most a pacer allows: this member's share of the account's request budget.",
            ("pacer",),
            registry=registry,
        )
        self.pacer_wait_seconds = Counter(
            "cpqsync_engine_pacer_wait_seconds",
            "Time callers spent waiting for a pacer token.",
            ("pacer",),
            registry=registry,
        )
        self.pacer_rate_limited = Counter(
            "cpqsync_engine_pacer_rate_limited",
            "429 answers reported to a pacer.",
            ("pacer",),
            registry=registry,
        )

    def prime(self, group: str, topics: Iterable[str]) -> None:
        """Export every known label combination of ``group`` at 0."""
        for topic in topics:
            for outcome in OUTCOMES:
                self.processed.labels(group, topic, outcome)
            for reason in DEAD_LETTER_REASONS:
                self.dead_letters.labels(group, topic, reason)
            self.retries.labels(group, topic)
        for event in REBALANCE_EVENTS:
            self.rebalances.labels(group, event)


_lock = threading.Lock()
_by_registry: weakref.WeakKeyDictionary[CollectorRegistry, EngineMetrics] = (
    weakref.WeakKeyDictionary()
)


def engine_metrics(registry: CollectorRegistry | None = None) -> EngineMetrics:
    """The engine metrics of ``registry`` (the process default when None), created once."""
    target = REGISTRY if registry is None else registry
    with _lock:
        metrics = _by_registry.get(target)
        if metrics is None:
            metrics = EngineMetrics(target)
            _by_registry[target] = metrics
        return metrics
