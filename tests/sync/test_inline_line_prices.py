"""Setting ``sync.inline_line_prices``: org simulator -> bridge -> Kafka -> sync -> Stripe emulator.

A custom-priced licensed line's price goes inline (``price_data``) on its schedule entry: no
``price.create`` for it and no archive, its OrderItem's Stripe id from the schedule's answer, and
a replay of every event sends Stripe nothing new. Assertions read the emulator's objects and
request log (what reached Stripe), never our own calls.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from consumer.sync.results import reports_root
from cpqsync_sandbox.org.simulator import OrgSimulator
from cpqsync_sandbox.stripe_emulator import StripeEmulator
from schemas.models import SyncStatus
from tests.chaos import consistency
from tests.sync.stack import GOOD_ORDERS, Stack, open_stack, roots_reported, wait_for
from tests.sync.stripe_state import by_metadata, snapshot

pytestmark = pytest.mark.integration


@pytest.fixture
def inline_stack(
    org: OrgSimulator, emulator: StripeEmulator, kafka: str, unique: Callable[[str], str]
) -> Iterator[Stack]:
    yield from open_stack(org, emulator, kafka, unique("inline"), inline_line_prices=True)


def _writes(stack: Stack) -> list[tuple[str, str]]:
    return [(e.method, e.path) for e in stack.stripe.request_log() if e.method != "GET"]


def _beyond_price_data(price: dict[str, Any]) -> bool:
    recurring = price.get("recurring") or {}
    return price["billing_scheme"] == "tiered" or recurring.get("usage_type") == "metered"


def _about_writeback(discrepancy: str) -> bool:
    return "Stripe_ID__c is None" in discrepancy or "Sync Record" in discrepancy


def test_custom_priced_lines_go_inline_and_a_replay_sends_nothing(inline_stack: Stack) -> None:
    stack, org = inline_stack, inline_stack.org
    stack.start_bridge()
    stack.start_sync()
    ids = [org.dataset.id(ref) for ref in GOOD_ORDERS]
    for order_id in ids:
        org.activate_order(order_id)
    stack.wait_for_results(lambda rs: roots_reported(rs, ids), timeout=90)

    # Acme: 1440.00 a year billed monthly is 120.00 a month (P5), not its entry's price: inline.
    acme = org.dataset.id("order_acme")
    [schedule] = by_metadata(stack.stripe, "subscription_schedule", "salesforce_order_id", acme)
    [phase] = schedule["phases"]
    prices = {p["id"]: p for p in stack.stripe.objects("price")}
    lines = sorted(
        (Decimal(prices[i["price"]]["unit_amount_decimal"]), i["quantity"], i["price"])
        for i in phase["items"]
    )
    assert [(a, q) for a, q, _ in lines] == [(Decimal("12000"), 25), (Decimal("50000"), 1)]
    for _, _, price_id in lines:
        price = prices[price_id]
        assert price["active"] is False and price["metadata"] == {}  # Stripe's inline price
        assert price["lookup_key"] is None

    # P6's create + archive is left to the prices price_data cannot say (metered, tiered) and
    # to invoices (Initech's order is one-time only, O3): no per-unit licensed line price was
    # created for a schedule, and only the others were archived.
    writes = _writes(stack)
    scheduled = {
        i["price"]
        for s in stack.stripe.objects("subscription_schedule")
        for p in s["phases"]
        for i in [*p["items"], *p["add_invoice_items"]]
    }
    own = [p for p in prices.values() if "salesforce_order_item_id" in p["metadata"]]
    assert own and all(_beyond_price_data(p) or p["id"] not in scheduled for p in own)
    assert any(p["id"] in scheduled for p in own)  # the metered, tiered line of an order
    created = [p for p in prices.values() if p["lookup_key"]]
    assert writes.count(("POST", "/v1/prices")) == len(created) + len(own)
    archived = sorted(w[1] for w in writes if w[0] == "POST" and w[1].startswith("/v1/prices/"))
    assert archived == sorted(f"/v1/prices/{p['id']}" for p in own)

    # Each inline line's OrderItem is reported with the price the schedule's answer named.
    results = stack.results()
    items = {
        i["metadata"]["salesforce_order_item_id"]: i["price"]
        for i in phase["items"]
        if not prices[i["price"]]["lookup_key"]
    }
    assert items
    for item_id, price_id in items.items():
        [result] = [r for r in results if r.primary_record_id == item_id]
        assert result.status is SyncStatus.SUCCESS and result.primary_object_type == "OrderItem"
        assert (result.stripe_object_type, result.stripe_object_id) == ("price", price_id)

    # The whole topic replayed by a new consumer group: every order converges, nothing is sent.
    before, sent = snapshot(stack.stripe), len(writes)

    def successes(order_id: str) -> int:
        return sum(
            1
            for r in stack.results()
            if r.primary_record_id == order_id
            and reports_root(r)
            and r.status is SyncStatus.SUCCESS
        )

    stack.stop_syncs()
    stack.start_sync(group=f"{stack.settings.kafka.topic_prefix}-replay")
    wait_for(lambda: all(successes(o) >= 2 for o in ids), timeout=90)
    assert snapshot(stack.stripe) == before
    assert _writes(stack)[sent:] == []
    # No writeback runs here, so the lines' Stripe_ID__c are still empty, as after an attempt
    # interrupted before its results: the replay reports each line's inline price again.
    for item_id, price_id in items.items():
        again = [r for r in stack.results() if r.primary_record_id == item_id]
        assert len(again) >= 2 and {r.stripe_object_id for r in again} == {price_id}, again
        assert {r.message for r in again[1:]} == {f"Synced: already up to date: price {price_id}"}

    # The chaos checker takes the inline prices for what the plans ask (and notices one off).
    # (No writeback runs here: what it says of Salesforce's side is left out.)
    verdict = consistency.check(org, consistency.snapshot(stack.stripe), stack.settings)
    stripe_side = [d for d in verdict.report.discrepancies if not _about_writeback(d)]
    assert stripe_side == [], stripe_side
    objects = copy.deepcopy(dict(verdict.stripe))
    inline = next(iter(items.values()))
    [broken] = [p for p in objects["price"] if p["id"] == inline]
    broken["unit_amount_decimal"] = "1"
    found = consistency.compare(verdict.org, objects, verdict.expected).discrepancies
    assert [d for d in found if inline in d and "unit_amount_decimal" in d], found


def test_a_changed_line_gets_a_new_inline_price_in_one_schedule_update(
    inline_stack: Stack,
) -> None:
    stack, org = inline_stack, inline_stack.org
    stack.start_bridge()
    stack.start_sync()
    acme = org.dataset.id("order_acme")
    org.activate_order(acme)
    stack.wait_for_results(lambda rs: roots_reported(rs, [acme]), timeout=90)
    [schedule] = by_metadata(stack.stripe, "subscription_schedule", "salesforce_order_id", acme)
    prices = {p["id"]: p for p in stack.stripe.objects("price")}
    before = {
        i["metadata"]["salesforce_order_item_id"]: i["price"]
        for i in schedule["phases"][0]["items"]
    }
    [changed] = [
        item
        for item, price in before.items()
        if Decimal(prices[price]["unit_amount_decimal"]) == Decimal("12000")
    ]
    line = org.get("OrderItem", changed)
    sent = len(_writes(stack))

    # 1440.00 a year billed monthly (120.00 a month, P5) becomes 2880.00: 240.00 a month.
    org.update("OrderItem", changed, {"UnitPrice": float(line["UnitPrice"]) * 2})
    wait_for(
        lambda: any(
            r.primary_record_id == changed and r.stripe_object_id not in (None, before[changed])
            for r in stack.results()
        ),
        timeout=90,
    )

    assert _writes(stack)[sent:] == [("POST", f"/v1/subscription_schedules/{schedule['id']}")]
    [after] = by_metadata(stack.stripe, "subscription_schedule", "salesforce_order_id", acme)
    now = {
        i["metadata"]["salesforce_order_item_id"]: i["price"] for i in after["phases"][0]["items"]
    }
    assert {k: v for k, v in now.items() if k != changed} == {
        k: v for k, v in before.items() if k != changed
    }
    new = stack.stripe.objects("price")
    [price] = [p for p in new if p["id"] == now[changed]]
    assert price["id"] != before[changed] and price["active"] is False
    assert Decimal(price["unit_amount_decimal"]) == Decimal("24000")
    [result] = [
        r
        for r in stack.results()
        if r.primary_record_id == changed and r.stripe_object_id == price["id"]
    ]
    assert result.status is SyncStatus.SUCCESS and result.stripe_object_type == "price"
