"""The sync's Prometheus metrics, ``cpqsync_sync_*`` (DESIGN section 4).

Skips that produce no Sync Record (live sync off, filters in live sync, deletes, records not
synced yet) are only visible here, labelled with their reason, so an operator can still see
why nothing happened.
"""

from __future__ import annotations

import threading
import weakref

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.registry import REGISTRY

from schemas.models import SyncStatus


class SyncMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.results = Counter(
            "cpqsync_sync_results",
            "SyncResults emitted, by status and object type of the primary record.",
            ("status", "object_type"),
            registry=registry,
        )
        self.unreported = Counter(
            "cpqsync_sync_unreported_skips",
            "Triggers or roots skipped without a Sync Record, by reason.",
            ("reason",),
            registry=registry,
        )
        self.stripe_operations = Counter(
            "cpqsync_sync_stripe_operations",
            "Plan operations Stripe answered, by kind and whether it was an idempotent replay.",
            ("kind",),
            registry=registry,
        )
        self.end_to_end = Histogram(
            "cpqsync_sync_end_to_end_seconds",
            "Salesforce commit time of the trigger to the root's Stripe state applied.",
            ("object_type",),
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
            registry=registry,
        )
        # Results by status exist at 0 from the start, so the first Error shows in a rate.
        for status in SyncStatus:
            for object_type in SYNCED_OBJECT_TYPES:
                self.results.labels(status.value, object_type)
        self.repartition = Histogram(
            "cpqsync_sync_repartition_seconds",
            "Root work produced by the trigger stage to the root stage starting on it (the "
            "repartition hop: produce, commit, fetch).",
            buckets=(0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2, 5),
            registry=registry,
        )


# The primary object types results report (the roots a sync starts from).
SYNCED_OBJECT_TYPES = ("Order", "Account", "Product2", "PricebookEntry")

_lock = threading.Lock()
_by_registry: weakref.WeakKeyDictionary[CollectorRegistry, SyncMetrics] = (
    weakref.WeakKeyDictionary()
)


def sync_metrics(registry: CollectorRegistry | None = None) -> SyncMetrics:
    target = REGISTRY if registry is None else registry
    with _lock:
        metrics = _by_registry.get(target)
        if metrics is None:
            metrics = SyncMetrics(target)
            _by_registry[target] = metrics
        return metrics
