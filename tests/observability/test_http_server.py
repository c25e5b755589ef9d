"""The per-process endpoint answers Prometheus, liveness and readiness as orchestrators expect."""

from __future__ import annotations

import threading

import pytest
import requests
import typer
from prometheus_client import CollectorRegistry, Counter

from cpqsync.app.cli.options import serve_metrics
from cpqsync.observability.http_server import MetricsPortUnavailable, MetricsServer
from cpqsync.settings import MetricsSettings, Settings


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


def test_a_port_in_use_is_named_with_the_setting_that_moves_it() -> None:
    with MetricsServer(port=0) as taken:
        port = int(taken.url.rsplit(":", 1)[1])
        with pytest.raises(MetricsPortUnavailable) as raised:
            MetricsServer(port=port)
    message = str(raised.value)
    assert f"127.0.0.1:{port}" in message
    assert "metrics.port" in message and "CPQSYNC_METRICS__PORT" in message


def test_a_role_whose_metrics_port_is_taken_exits_1_with_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with MetricsServer(port=0) as taken:
        port = int(taken.url.rsplit(":", 1)[1])
        settings = Settings(metrics=MetricsSettings(port=port))
        with pytest.raises(typer.Exit) as exited:
            serve_metrics(settings, "sync", lambda: True)
    assert exited.value.exit_code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cpqsync sync: cannot serve /metrics on ")
    assert "metrics.port" in err[0]


def test_metrics_off_serves_nothing() -> None:
    settings = Settings(metrics=MetricsSettings(enabled=False))
    assert serve_metrics(settings, "sync", lambda: True) is None
