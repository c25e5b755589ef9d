"""A dependency outage is told once down and once up, probed with capped backoff, gauged."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import CollectorRegistry, Gauge

from consumer.engine import Dependency, DependencyDown, DependencyHealth, RetryPolicy


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class _Service:
    def __init__(self) -> None:
        self.up = False
        self.probes = 0

    def probe(self) -> None:
        self.probes += 1
        if not self.up:
            raise ConnectionError("connection refused")


def _gauge(registry: CollectorRegistry, dependency: str) -> float | None:
    return registry.get_sample_value(
        "cpqsync_dependency_up", {"group": "g", "dependency": dependency}
    )


def _health(
    registry: CollectorRegistry, service: _Service, clock: _Clock, changes: list[bool]
) -> DependencyHealth:
    gauge = Gauge("cpqsync_dependency_up", "up", ("group", "dependency"), registry=registry)
    return DependencyHealth(
        [Dependency("stripe", "stripe.api_key / stripe.api_base", service.probe)],
        group="g",
        gauge=gauge,
        backoff=RetryPolicy(1, 1.0, 8.0),
        on_change=changes.append,
        clock=clock,
    )


def test_one_line_down_one_line_up_and_the_gauge_between(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry, service, clock = CollectorRegistry(), _Service(), _Clock()
    changes: list[bool] = []
    health = _health(registry, service, clock, changes)
    assert _gauge(registry, "stripe") == 1, "born at 1, before any failure"
    assert health.all_up

    with caplog.at_level(logging.INFO, logger="consumer.engine.dependencies"):
        for _ in range(20):  # twenty workers hitting the same outage
            health.report(
                DependencyDown(
                    "Stripe Error: HTTP 503", dependency="stripe", setting="stripe.api_base"
                )
            )
        assert changes == [False], "the engine is told once to hold its work"
        assert _gauge(registry, "stripe") == 0
        assert health.down() == ["stripe"] and not health.all_up

        # Probes back off, capped: never more than 8 s apart, and nothing is probed early.
        assert not health.probe_due() and service.probes == 0
        gaps = []
        for _ in range(12):
            before = service.probes
            waited = 0.0
            while service.probes == before:
                clock.now += 0.25
                waited += 0.25
                health.probe_due()
            gaps.append(waited)
        assert max(gaps) <= 8.25
        assert not health.all_up and changes == [False]

        service.up = True
        while health.down():
            clock.now += 0.25
            health.probe_due()
    assert changes == [False, True]
    assert _gauge(registry, "stripe") == 1

    lines = [r for r in caplog.records if r.name == "consumer.engine.dependencies"]
    down = [r.getMessage() for r in lines if r.levelno == logging.ERROR]
    up = [r.getMessage() for r in lines if r.levelno == logging.WARNING]
    assert len(down) == 1 and len(up) == 1, [r.getMessage() for r in lines]
    assert "stripe is down" in down[0] and "HTTP 503" in down[0]
    assert "Check stripe.api_base" in down[0], "the line names the setting to check"
    assert "stripe is back" in up[0]


def test_a_secret_in_the_error_never_reaches_the_log(caplog: pytest.LogCaptureFixture) -> None:
    registry, service, clock = CollectorRegistry(), _Service(), _Clock()
    changes: list[bool] = []
    health = _health(registry, service, clock, changes)
    with caplog.at_level(logging.ERROR, logger="consumer.engine.dependencies"):
        health.report(
            DependencyDown(
                "Invalid API Key provided: sk_test_51HbQkLMnOpQrStUvWxYz0123456789abcdef",
                dependency="stripe",
            )
        )
    assert "sk_test_51HbQkLMnOpQrStUvWxYz0123456789abcdef" not in caplog.text
    assert "stripe is down" in caplog.text


class _Steps(RetryPolicy):
    """The backoff step itself, in seconds: which step a probe waits shows directly."""

    def delay(self, attempts_made: int, retry_after: float | None = None) -> float:
        return float(attempts_made)


def test_down_again_soon_after_coming_back_goes_on_with_the_backoff() -> None:
    """A probe that answers while real work still fails (reads pass, writes do not) must not
    restart the backoff at its shortest each time: the half outage would cycle every second."""
    registry, service, clock = CollectorRegistry(), _Service(), _Clock()
    gauge = Gauge("cpqsync_dependency_up", "up", ("group", "dependency"), registry=registry)
    health = DependencyHealth(
        [Dependency("stripe", "stripe.api_key", service.probe)],
        group="g",
        gauge=gauge,
        backoff=_Steps(1, 1.0, 8.0),
        clock=clock,
    )

    def outage_until_back() -> list[float]:
        health.report(DependencyDown("HTTP 503", dependency="stripe"))
        waits, since = [], clock.now
        while health.down():
            clock.now += 0.5
            before = service.probes
            service.up = before >= 2  # the third probe answers
            health.probe_due()
            if service.probes != before:
                waits.append(clock.now - since)
                since = clock.now
        return waits

    assert outage_until_back() == [1.0, 2.0, 3.0]
    service.probes, service.up = 0, False
    clock.now += 10  # down again ten seconds after it came back
    assert outage_until_back() == [4.0, 5.0, 6.0]
    service.probes, service.up = 0, False
    clock.now += 120  # a new outage, long after: the backoff starts over
    assert outage_until_back() == [1.0, 2.0, 3.0]
