"""The writeback's Prometheus metrics, ``cpqsync_writeback_*``.

Created once per registry, like the engine's, so a process hosting several
roles (``cpqsync run``, the demo) shares one set.
"""

from __future__ import annotations

import threading
import weakref

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.registry import REGISTRY

_RECORD_BUCKETS = (1, 5, 10, 25, 50, 100, 150, 200)


class WritebackMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.results = Counter(
            "cpqsync_writeback_results",
            "Sync results handled, by status and outcome (written, stale, duplicate, "
            "superseded, rejected, dead_lettered).",
            ("status", "outcome"),
            registry=registry,
        )
        self.records_written = Counter(
            "cpqsync_writeback_records_written",
            "Salesforce records written, by object and outcome (success, rejected).",
            ("object", "outcome"),
            registry=registry,
        )
        self.batch_size = Histogram(
            "cpqsync_writeback_batch_size_results",
            "Sync results per handled batch.",
            buckets=_RECORD_BUCKETS,
            registry=registry,
        )
        self.call_records = Histogram(
            "cpqsync_writeback_collection_call_records",
            "Records per sObject Collections call, by operation.",
            ("operation",),
            buckets=_RECORD_BUCKETS,
            registry=registry,
        )
        self.api_calls = Counter(
            "cpqsync_writeback_salesforce_api_calls",
            "Salesforce REST calls made, by operation (query, update, upsert, delete).",
            ("operation",),
            registry=registry,
        )
        self.api_errors = Counter(
            "cpqsync_writeback_salesforce_api_errors",
            "Salesforce calls that failed as a whole, by operation and error code.",
            ("operation", "code"),
            registry=registry,
        )
        self.api_usage_used = Gauge(
            "cpqsync_writeback_salesforce_api_usage_used",
            "Requests the org used in its 24-hour window (Sforce-Limit-Info).",
            registry=registry,
        )
        self.api_usage_limit = Gauge(
            "cpqsync_writeback_salesforce_api_usage_limit",
            "The org's 24-hour request allocation (Sforce-Limit-Info).",
            registry=registry,
        )
        self.retention_deleted = Counter(
            "cpqsync_writeback_retention_deleted_records",
            "Sync Records deleted by retention.",
            registry=registry,
        )
        self.retention_runs = Counter(
            "cpqsync_writeback_retention_runs",
            "Retention passes, by outcome (ok, failed).",
            ("outcome",),
            registry=registry,
        )


_lock = threading.Lock()
_by_registry: weakref.WeakKeyDictionary[CollectorRegistry, WritebackMetrics] = (
    weakref.WeakKeyDictionary()
)


def writeback_metrics(registry: CollectorRegistry | None = None) -> WritebackMetrics:
    """The writeback metrics of ``registry`` (the process default when None), created once."""
    target = REGISTRY if registry is None else registry
    with _lock:
        metrics = _by_registry.get(target)
        if metrics is None:
            metrics = WritebackMetrics(target)
            _by_registry[target] = metrics
        return metrics
