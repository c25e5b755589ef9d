"""Issue 18 acceptance, writeback side: Salesforce down (503 to every call, logins included) or
out of API requests (REQUEST_LIMIT_EXCEEDED) while results arrive. The writeback holds them,
uncommitted and not dead-lettered, reports not ready and ``cpqsync_dependency_up`` 0, logs one
line down and one up, and writes every Sync Record by itself once the org answers again."""

from __future__ import annotations

import datetime as dt
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from cpqsync.observability.http_server import MetricsServer
from cpqsync_sandbox.org.simulator import OrgSimulator
from tests.writeback.conftest import Harness
from tests.writeback.support import (
    T0,
    accounts,
    committed,
    read_all,
    result,
    start_service,
    sync_records,
    wait_consumed,
    wait_until,
)

pytestmark = pytest.mark.integration

LOGGER = "consumer.engine.dependencies"


def _readyz(server: MetricsServer) -> int:
    try:
        with urllib.request.urlopen(f"{server.url}/readyz", timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


# How to start and end an outage, and what the "down" line must tell the operator to check.
Outage = tuple[Callable[[], None], Callable[[], None], str]


def _unavailable(org: OrgSimulator) -> Outage:
    hint = "Check salesforce.login_url and the org's status"
    return org.set_unavailable, lambda: org.set_unavailable(False), hint


def _request_limit(org: OrgSimulator) -> Outage:
    usage, allocation = org.api_usage, org.api_usage.daily_limit

    def exhaust() -> None:
        usage.daily_limit = usage.used

    def replenish() -> None:
        usage.daily_limit = allocation

    return exhaust, replenish, "Check the org's API request allocation"


# The default run's outages last 10 s: dozens of times the writeback's retries here (2 attempts,
# 50-100 ms apart), so the held results can only wait; the 2-minute versions run with -m slow.
@pytest.mark.parametrize(
    ("outage", "count", "outage_s"),
    [
        pytest.param(_unavailable, 60, 10.0, id="down-short"),
        pytest.param(_request_limit, 60, 10.0, id="request-limit-short"),
        pytest.param(_unavailable, 600, 120.0, id="down-2min", marks=pytest.mark.slow),
        pytest.param(_request_limit, 600, 120.0, id="request-limit-2min", marks=pytest.mark.slow),
    ],
)
def test_the_writeback_rides_out_a_salesforce_outage(
    kafka: str,
    org: OrgSimulator,
    writeback: Harness,
    unique: Callable[[str], str],
    fast_group_config: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    outage: Callable[[OrgSimulator], Outage],
    count: int,
    outage_s: float,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    start, end, hint = outage(org)
    ids = accounts(org, count)
    results = [result(a, at=T0 + dt.timedelta(seconds=i)) for i, a in enumerate(ids)]
    before, during = results[: count // 3], results[count // 3 :]
    group = unique("writeback")
    registry = CollectorRegistry()
    service = start_service(
        writeback.settings(),
        kafka,
        writeback.topic,
        writeback.dlq,
        group,
        fast_group_config,
        registry,
    )
    server = MetricsServer(registry=registry).start()
    server.add_readiness_check("writeback", service.is_ready)

    def gauge() -> float | None:
        return registry.get_sample_value(
            "cpqsync_dependency_up", {"group": group, "dependency": "salesforce"}
        )

    try:
        wait_until(service.is_ready, 60, "the writeback to join")
        assert gauge() == 1
        writeback.produce(before)
        wait_consumed(kafka, group, writeback.topic)

        start()
        began = time.monotonic()
        writeback.produce(during)
        wait_until(lambda: _readyz(server) == 503, 30, "/readyz to answer 503")
        held_at = committed(kafka, group, writeback.topic)
        samples = []
        while time.monotonic() - began < outage_s:
            samples.append((_readyz(server), gauge()))
            time.sleep(0.5)
        assert set(samples) == {(503, 0.0)}, samples
        assert committed(kafka, group, writeback.topic) == held_at < len(results), (
            "nothing committed past the held results"
        )

        end()
        recovered = time.monotonic()
        wait_until(lambda: _readyz(server) == 200, 30, "/readyz to answer 200 again")
        assert time.monotonic() - recovered <= 30
        wait_consumed(kafka, group, writeback.topic, timeout=60 + count / 5)
    finally:
        server.stop()
        service.stop()

    records = sync_records(org)
    assert set(records) == set(ids), "every result written, none lost"
    assert {r["Resolution_Status__c"] for r in records.values()} == {"Success"}
    assert read_all(kafka, writeback.dlq, expect=0, timeout=1) == [], "nothing dead-lettered"
    lines = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    down = [m for m in lines if m.startswith(f"salesforce is down for consumer group {group}:")]
    up = [m for m in lines if m.startswith(f"salesforce is back for consumer group {group} ")]
    assert len(down) == 1 and len(up) == 1, lines
    assert hint in down[0]
