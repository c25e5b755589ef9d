"""Riding out a dependency outage on the whole stack, watched the way an operator watches it.

Each role gets its own ``/readyz`` and ``/metrics`` endpoint (as ``cpqsync sync`` and
``cpqsync writeback`` serve them); the test reads both over HTTP while the outage lasts.
"""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from consumer.writeback import WritebackService
from cpqsync.observability.http_server import MetricsServer
from cpqsync_sandbox.org.dataset_generator import generate_orders
from schemas.models import SyncStatus
from tests.sync.stack import FAST_GROUP, Stack, roots_reported, wait_for
from tests.writeback.support import sync_records

DEPENDENCY_LOGGER = "consumer.engine.dependencies"


@dataclass
class Role:
    name: str
    groups: tuple[str, ...]  # the role's consumer groups (the sync runs two stages)
    ready: Callable[[], bool]
    server: MetricsServer

    def readyz(self) -> int:
        try:
            with urllib.request.urlopen(f"{self.server.url}/readyz", timeout=5) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as error:
            return int(error.code)

    @property
    def group(self) -> str:
        return self.groups[0]

    def dependency_up(self, dependency: str) -> float | None:
        """The gauge as the dashboard reads it for the role: the lowest over its groups."""
        with urllib.request.urlopen(f"{self.server.url}/metrics", timeout=5) as answer:
            text = answer.read().decode()
        values = [
            float(sample.value)
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "cpqsync_dependency_up"
            and sample.labels.get("group") in self.groups
            and sample.labels.get("dependency") == dependency
        ]
        return min(values) if values else None


def _answers(role: Role, status: int) -> bool:
    return role.readyz() == status


@dataclass
class Roles:
    stack: Stack
    sync: Role
    writeback: Role
    closers: list[Callable[[], None]] = field(default_factory=list)

    def role(self, name: str) -> Role:
        return self.sync if name == "sync" else self.writeback


@contextmanager
def running_roles(stack: Stack, unique: Callable[[str], str]) -> Iterator[Roles]:
    """Bridge, sync and writeback on ``stack``, each role with its own health endpoint."""
    stack.start_bridge()
    sync_registry, writeback_registry = CollectorRegistry(), CollectorRegistry()
    sync = stack.start_sync(registry=sync_registry)
    writeback = WritebackService(
        stack.settings,
        bootstrap_servers=stack.kafka,
        group_id=unique("writeback"),
        client_config=dict(FAST_GROUP),
        registry=writeback_registry,
    ).start()
    servers = [
        MetricsServer(registry=sync_registry).start(),
        MetricsServer(registry=writeback_registry).start(),
    ]
    servers[0].add_readiness_check("sync", sync.ready)
    servers[1].add_readiness_check("writeback", writeback.is_ready)
    try:
        wait_for(writeback.is_ready, 60)
        yield Roles(
            stack,
            Role("sync", tuple(e.group_id for e in sync.engines), sync.ready, servers[0]),
            Role("writeback", (writeback.group_id,), writeback.is_ready, servers[1]),
        )
    finally:
        writeback.stop()
        for server in servers:
            server.stop()


@dataclass
class Outage:
    """How to break a dependency and mend it, and which roles must notice."""

    dependency: str
    start: Callable[[], object]
    end: Callable[[], object]
    roles: tuple[str, ...]
    hint: str  # what the "down" line must tell the operator to check


def ride_out(
    roles: Roles,
    outage: Outage,
    *,
    orders: int,
    outage_s: float,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Sync ``orders`` with ``outage`` striking mid-way for ``outage_s``; check what an
    operator needs: nothing failed, lost or doubled, not-ready and gauge 0 while it lasted,
    one line down and one up per role, and recovery without anyone doing anything."""
    caplog.set_level(logging.INFO, logger=DEPENDENCY_LOGGER)
    stack = roles.stack
    org, stripe = stack.org, stack.stripe
    order_ids = generate_orders(org.store, org.dataset, orders, seed=11)
    before, during = order_ids[: orders // 3], order_ids[orders // 3 :]
    for order_id in before:
        org.activate_order(order_id)
    stack.wait_for_results(lambda rs: roots_reported(rs, before[:1]), timeout=120)

    outage.start()
    began = time.monotonic()
    for order_id in during:
        org.activate_order(order_id)
    watched = [roles.role(name) for name in outage.roles]
    for role in watched:
        wait_for(partial(_answers, role, 503), timeout=min(60.0, outage_s))
    samples: list[tuple[str, int, float | None]] = []
    while time.monotonic() - began < outage_s:
        for role in watched:
            samples.append((role.name, role.readyz(), role.dependency_up(outage.dependency)))
        time.sleep(0.5)
    results_during = len(stack.results())

    outage.end()
    recovered = time.monotonic()
    for role in watched:
        wait_for(partial(_answers, role, 200), timeout=30)
    if "sync" in outage.roles and not roots_reported(stack.results(), order_ids):
        wait_for(lambda: len(stack.results()) > results_during, timeout=30)
    resumed_s = time.monotonic() - recovered
    results = stack.wait_for_results(lambda rs: roots_reported(rs, order_ids), timeout=60 + orders)
    wait_for(
        lambda: all(sync_records(org).get(o, {}).get("Resolution_Status__c") for o in order_ids),
        timeout=60 + orders,
    )

    # While it lasted: not ready, and the gauge said which dependency.
    assert samples and {(name, code, up) for name, code, up in samples} == {
        (role.name, 503, 0.0) for role in watched
    }, samples
    assert resumed_s <= 30, f"resumed {resumed_s:.1f}s after the dependency came back"
    for role in watched:
        assert role.dependency_up(outage.dependency) == 1.0

    # Nothing failed, nothing lost, nothing doubled.
    failed = [(r.primary_record_id, r.message) for r in results if r.status is SyncStatus.ERROR]
    assert not failed, failed
    records = sync_records(org)
    assert {records[o]["Resolution_Status__c"] for o in order_ids} == {"Success"}
    assert not [r for r in records.values() if r["Resolution_Status__c"] == "Error"]
    schedules = Counter(
        s["metadata"]["salesforce_order_id"] for s in stripe.objects("subscription_schedule")
    )
    assert set(schedules) == set(order_ids) and set(schedules.values()) == {1}
    customers = Counter(c["metadata"]["salesforce_account_id"] for c in stripe.objects("customer"))
    assert set(customers.values()) == {1}
    per_line = Counter(
        p["metadata"]["salesforce_order_item_id"]
        for p in stripe.objects("price")
        if "salesforce_order_item_id" in p["metadata"]
    )
    assert per_line and set(per_line.values()) == {1}

    # One line when it went down, one when it came back, per consumer group that met it
    # (the sync role's two stages may both meet a Salesforce outage), and at least one group.
    lines = [r.getMessage() for r in caplog.records if r.name == DEPENDENCY_LOGGER]
    for role in watched:
        met = 0
        for group in role.groups:
            down = [
                m
                for m in lines
                if m.startswith(f"{outage.dependency} is down for consumer group {group}:")
            ]
            up = [
                m
                for m in lines
                if m.startswith(f"{outage.dependency} is back for consumer group {group} ")
            ]
            assert len(down) == len(up) <= 1, lines
            for line in down:
                assert outage.hint in line, line
            met += len(down)
        assert met >= 1, lines
