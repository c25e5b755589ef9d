"""Issue 9 acceptance: Stripe misbehaving (429 bursts, 500s, 2 s timeouts) still ends with every
order synced exactly once, and nothing duplicated in Stripe."""

from __future__ import annotations

from collections import Counter

import pytest

from consumer.sync.results import reports_root
from cpqsync_sandbox.org.dataset_generator import generate_orders
from schemas.models import SyncStatus
from tests.sync.stack import Stack, roots_reported

pytestmark = pytest.mark.integration


def _sync_under_faults(stack: Stack, count: int, timeout: float) -> None:
    org, stripe = stack.org, stack.stripe
    order_ids = generate_orders(org.store, org.dataset, count, seed=7)
    stack.settings.stripe.timeout_s = 1.0  # the 2 s holds time out and are retried
    stripe.set_rate_limit(25)  # Stripe's test-mode limit, far under the configured pace
    faults = stripe.configure_faults(
        {"kind": "error", "rate": 0.10},
        # The request ran, then failed: Stripe stores that 500 under the idempotency key.
        {"kind": "error", "nth": 14, "method": "POST", "stage": "after"},
        {"kind": "error", "nth": 40, "stage": "after"},
        # Stored 500s and timeouts on fixed requests: at 3 % a run of 20 orders, which makes
        # few requests, could end without one.
        {"kind": "timeout", "nth": 9, "hold_seconds": 2},
        {"kind": "timeout", "nth": 25, "method": "POST", "hold_seconds": 2},
    )
    stack.start_bridge()
    stack.start_sync()
    for order_id in order_ids:
        org.activate_order(order_id)
    results = stack.wait_for_results(lambda rs: roots_reported(rs, order_ids), timeout=timeout)
    assert all(rule.fired for rule in faults), [rule.fired for rule in faults]
    assert any(entry.status == 429 for entry in stripe.request_log())

    roots = [r for r in results if r.primary_record_id in order_ids and reports_root(r)]
    failed = [r.message for r in roots if r.status is not SyncStatus.SUCCESS]
    assert not failed, failed

    schedules = Counter(
        s["metadata"]["salesforce_order_id"] for s in stripe.objects("subscription_schedule")
    )
    assert set(schedules) == set(order_ids) and set(schedules.values()) == {1}
    customers = Counter(c["metadata"]["salesforce_account_id"] for c in stripe.objects("customer"))
    assert set(customers.values()) == {1}
    prices = stripe.objects("price")
    per_line = Counter(
        p["metadata"]["salesforce_order_item_id"]
        for p in prices
        if "salesforce_order_item_id" in p["metadata"]
    )
    assert per_line and set(per_line.values()) == {1}, per_line.most_common(3)
    active_keys = Counter(p["lookup_key"] for p in prices if p["lookup_key"])
    assert set(active_keys.values()) == {1}
    meters = Counter(m["event_name"] for m in stripe.objects("billing.meter"))
    assert set(meters.values()) <= {1}


def test_faults_still_sync_every_order_exactly_once(stack: Stack) -> None:
    _sync_under_faults(stack, 20, timeout=150)


@pytest.mark.slow
def test_faults_with_200_orders(stack: Stack) -> None:
    _sync_under_faults(stack, 200, timeout=600)
