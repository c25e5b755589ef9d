"""The per-process endpoint answers Prometheus, liveness and readiness as orchestrators expect."""

from __future__ import annotations

import threading

import requests
from prometheus_client import CollectorRegistry, Counter

from cpqsync.observability.http_server import MetricsServer


def test_metrics_health_and_readiness_flip() -> None:
    registry = CollectorRegistry()
    counter = Counter("cpqsync_test_events", "events", registry=registry)
    counter.inc(3)
    assigned = threading.Event()
    with MetricsServer(port=0, registry=registry) as server:
        assert server.url.startswith("http://127.0.0.1:")
        server.add_readiness_check("partitions assigned", assigned.is_set)
        assert requests.get(f"{server.url}/healthz", timeout=5).status_code == 200
        not_ready = requests.get(f"{server.url}/readyz", timeout=5)
        assert not_ready.status_code == 503
        assert "partitions assigned" in not_ready.text
        assigned.set()
        assert requests.get(f"{server.url}/readyz", timeout=5).status_code == 200
        metrics = requests.get(f"{server.url}/metrics", timeout=5).text
        assert "cpqsync_test_events_total 3.0" in metrics
        assert requests.get(f"{server.url}/nope", timeout=5).status_code == 404
