"""What a refused attempt made still goes back to its records (rule R3), end to end: org
simulator -> bridge -> Kafka -> sync -> Stripe emulator -> writeback -> org simulator.

An order's attempt makes its customer, product and price, then Stripe refuses its schedule:
the order's outcome is that Error, but the objects are in Stripe and belong to their records.
The attempt that made them reports them; one that found them (an earlier attempt made them
and was interrupted, or was retried on fresh lookups after a refusal, ``StaleView``) reported
only the Error, so Account, Product2 and PricebookEntry had no ``Stripe_ID__c`` until the
order synced cleanly one day.
"""

from __future__ import annotations

import datetime as dt

import pytest

from schemas.models import SyncResult, SyncStatus
from tests.stripe_emulator.conftest import make_client
from tests.sync.stack import Stack
from tests.sync.test_contract_end_to_end import (
    _month_start,
    running,  # noqa: F401 - the fixture
)
from tests.sync.test_order_shapes_end_to_end import _order
from tests.writeback.support import sync_records, wait_until

pytestmark = pytest.mark.integration


def test_a_refused_retry_still_reports_the_objects_an_interrupted_attempt_made(
    running: Stack,  # noqa: F811
) -> None:
    stack = running
    org, stripe = stack.org, stack.stripe
    start = _month_start(dt.datetime.now(dt.UTC).date(), -1)
    seats = {"product": "Seats", "Quantity": 5, "UnitPrice": 1200, "entry_price": 100}
    order, _ = _order(org, start, 12, [seats])
    # A coupon set by hand on the order (K2: used as it is) that Stripe will not put on a USD
    # schedule: an amount off in euros.
    euros = make_client(stripe).v1.coupons.create(
        {"id": "hand_made_eur", "amount_off": 500, "currency": "eur", "duration": "forever"}
    )
    org.create(
        "Order_Stripe_Coupon__c",
        {
            "Order__c": order,
            "Name__c": "By hand",
            "Amount_Off__c": 5,
            "Duration__c": "forever",
            "Stripe_ID__c": euros.id,
        },
    )
    # The first attempt makes the customer, product and price, then its schedule create fails
    # past the client's retries (the attempt is interrupted); the engine's retry finds them.
    [fault] = stripe.configure_faults(
        {"kind": "error", "method": "POST", "path": r"^/v1/subscription_schedules$",
         "rate": 1.0, "max_count": 3}
    )  # fmt: skip
    org.activate_order(order)

    def reported_with_the_error(results: list[SyncResult]) -> bool:
        made = {
            r.primary_record_id
            for r in results
            if r.status is SyncStatus.SUCCESS and r.secondary_record_id == order
        }
        refused = any(r.primary_record_id == order for r in results)
        return refused and len(made) == 3  # the account, the product and the entry

    results = stack.wait_for_results(reported_with_the_error, timeout=90)
    assert fault.fired == 3
    # The order's outcome is the refusal (its change events may sync it more than once).
    mine = [r for r in results if r.primary_record_id == order]
    assert {r.status for r in mine} == {SyncStatus.ERROR}
    assert all(r.message.startswith("Stripe Error:") and "currency" in r.message for r in mine)
    assert not stripe.objects("subscription_schedule")

    [customer] = stripe.objects("customer")
    [product] = stripe.objects("product")
    [price] = [p for p in stripe.objects("price") if p["lookup_key"]]
    entry = price["metadata"]["salesforce_pricebook_entry_id"]
    expected = {
        ("Account", org.get("Order", order)["AccountId"]): customer["id"],
        ("Product2", product["metadata"]["salesforce_product2_id"]): product["id"],
        ("PricebookEntry", entry): price["id"],
    }
    reported = {
        (r.primary_object_type, r.primary_record_id): r.stripe_object_id
        for r in results
        if r.status is SyncStatus.SUCCESS and r.secondary_record_id == order
    }
    assert reported == expected
    # Through the writeback: each record names its object, and the order keeps its Error.
    for (object_type, record_id), stripe_id in expected.items():
        wait_until(
            lambda object_type=object_type, record_id=record_id, stripe_id=stripe_id: (
                org.get(object_type, record_id).get("Stripe_ID__c") == stripe_id
            ),
            60,
            f"{object_type} {record_id}.Stripe_ID__c to name {stripe_id}",
        )
    assert not org.get("Order", order).get("Stripe_ID__c")
    wait_until(
        lambda: any(r["Primary_Record_ID__c"] == order for r in sync_records(org).values()),
        60,
        f"order {order}'s Sync Record",
    )
    # The reports resolve nothing of the order's: its refusal still stands.
    statuses = {
        r["Resolution_Status__c"]
        for r in sync_records(org).values()
        if r["Primary_Record_ID__c"] == order
    }
    assert statuses == {"Error"}
