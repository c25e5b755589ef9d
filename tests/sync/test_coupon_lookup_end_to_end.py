"""Coupons already in Stripe (rule A5), end to end: org simulator -> bridge -> Kafka -> sync ->
Stripe emulator -> writeback. A coupon an earlier attempt made under the record's deterministic
id (its Stripe_ID__c never written back) is found and used, never created twice (Stripe refuses
a second coupon with the same id); one whose terms differ is a Data Error naming the coupon."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from cpqsync_sandbox.org.cpq_actions import AmendmentLine
from cpqsync_sandbox.org.simulator import OrgSimulator
from schemas.models import SyncStatus
from tests.stripe_emulator.conftest import make_client
from tests.sync.stack import Stack
from tests.sync.test_contract_end_to_end import (
    _month_start,
    running,  # noqa: F401 - the fixture
)
from tests.sync.test_order_shapes_end_to_end import _order, _synced
from tests.writeback.support import wait_until

pytestmark = pytest.mark.integration


def _order_with_coupon(org: OrgSimulator, **terms: object) -> tuple[str, str]:
    """A Draft 12-month order of 5 seats with one order-level coupon record of ``terms``."""
    start = _month_start(dt.datetime.now(dt.UTC).date(), -1)
    order, _ = _order(org, start, 12, [{"product": "Seats", "Quantity": 5, "UnitPrice": 1200}])
    coupon = org.create("Order_Stripe_Coupon__c", {"Order__c": order, **terms})
    return order, coupon


def test_a_coupon_an_earlier_attempt_made_is_used_not_created_again(
    running: Stack,  # noqa: F811
) -> None:
    stack = running
    order, record = _order_with_coupon(
        stack.org, Name__c="Partner", Percent_Off__c=10, Duration__c="forever"
    )
    # What an attempt interrupted before its writeback leaves: the coupon, and no Stripe_ID__c.
    client = make_client(stack.stripe)
    client.v1.coupons.create(
        {"id": f"sf_coupon_{record}", "percent_off": 10, "duration": "forever", "name": "Partner"}
    )
    stack.org.activate_order(order)
    schedule = _synced(stack, order, 1)

    assert [d["coupon"] for d in schedule["phases"][0]["discounts"]] == [f"sf_coupon_{record}"]
    creates = [
        e for e in stack.stripe.request_log() if (e.method, e.path) == ("POST", "/v1/coupons")
    ]
    assert len(creates) == 1  # the earlier attempt's: the sync made none
    wait_until(
        lambda: (
            stack.org.get("Order_Stripe_Coupon__c", record).get("Stripe_ID__c")
            == f"sf_coupon_{record}"
        ),
        60,
        "the coupon record's Stripe_ID__c",
    )


def test_a_coupon_in_stripe_with_other_terms_is_a_data_error_naming_it(
    running: Stack,  # noqa: F811
) -> None:
    stack = running
    order, record = _order_with_coupon(
        stack.org, Name__c="Partner", Percent_Off__c=15, Duration__c="forever"
    )
    client = make_client(stack.stripe)
    client.v1.coupons.create(
        {"id": f"sf_coupon_{record}", "percent_off": 10, "duration": "forever", "name": "Partner"}
    )
    stack.org.activate_order(order)
    results = stack.wait_for_results(
        lambda rs: any(
            r.primary_record_id == order and r.secondary_record_id == record for r in rs
        ),
        timeout=90,
    )
    # One Error per attempt (the coupon record's own change event may sync the order too).
    errors = [
        r for r in results if r.primary_record_id == order and r.secondary_record_id == record
    ]
    assert {r.status for r in errors} == {SyncStatus.ERROR}
    error = errors[-1]
    assert f"Stripe already has coupon sf_coupon_{record} with other terms" in error.message
    assert "percent_off 15.0 (Stripe has 10.0)" in error.message
    assert not [
        s
        for s in stack.stripe.objects("subscription_schedule")
        if s["metadata"].get("salesforce_order_id") == order
    ]


def test_a_coupon_added_by_an_amendment_discounts_the_contract_from_its_phase_on(
    running: Stack,  # noqa: F811
) -> None:
    """A5 with A1: the initial order's coupon on every phase, the amendment quote's coupon
    (copied to the amendment order on activation) from the amendment's phase on."""
    stack, org = running, running.org
    today = dt.datetime.now(dt.UTC).date()
    start = _month_start(today, 2)
    order, [line] = _order(org, start, 12, [{"product": "Seats", "Quantity": 5, "UnitPrice": 1200}])
    quote = org.get("Order", order)["SBQQ__Quote__c"]
    partner = org.create(
        "Quote_Stripe_Coupon__c",
        {"Name__c": "Partner", "Percent_Off__c": 10, "Duration__c": "forever"},
    )
    org.create(
        "Quote_Stripe_Coupon_Association__c", {"Quote__c": quote, "Quote_Stripe_Coupon__c": partner}
    )
    org.activate_order(order)
    contract = org.contract_order(order)
    _synced(stack, order, 1)

    ends = _month_start(today, -1)
    upsell = org.amend_contract(contract, ends, [AmendmentLine(2, revises=line)])
    loyalty = org.create(
        "Quote_Stripe_Coupon__c",
        {"Name__c": "Loyalty", "Amount_Off__c": 20, "Duration__c": "once"},
    )
    org.create(
        "Quote_Stripe_Coupon_Association__c",
        {"Quote__c": org.get("Order", upsell)["SBQQ__Quote__c"], "Quote_Stripe_Coupon__c": loyalty},
    )
    org.activate_order(upsell)
    schedule = _synced(stack, order, 2)

    soql = "SELECT Id, Name__c, Stripe_ID__c FROM Order_Stripe_Coupon__c WHERE Order__c = '{}'"

    def records() -> list[dict[str, Any]]:
        return [r for o in (order, upsell) for r in org.query(soql.format(o)).records]

    coupons = {r["Name__c"]: f"sf_coupon_{r['Id']}" for r in records()}
    assert sorted(coupons) == ["Loyalty", "Partner"]
    # The running phase's coupon went back as the discount Stripe made of it (its entry then
    # names no coupon: the discount's source does), kept on the amendment's phase.
    made = {d["id"]: d for d in stack.stripe.objects("discount")}

    def coupon(entry: dict[str, Any]) -> str:
        return str(entry["coupon"] or made[entry["discount"]]["source"]["coupon"])

    assert [[coupon(d) for d in p["discounts"]] for p in schedule["phases"]] == [
        [coupons["Partner"]],
        [coupons["Partner"], coupons["Loyalty"]],
    ]
    first, second = schedule["phases"]
    assert first["discounts"][0]["discount"] == second["discounts"][0]["discount"] is not None
    assert [[i["quantity"] for i in p["items"]] for p in schedule["phases"]] == [[5], [7]]

    # Each coupon record names its coupon (R3), so a replay creates none again.
    wait_until(
        lambda: sorted(str(r["Stripe_ID__c"]) for r in records()) == sorted(coupons.values()),
        60,
        "the coupon records' Stripe_ID__c",
    )
