"""A retry re-plans from what Stripe holds, not from what the process remembers.

Chaos CI runs after the sync began remembering pricebook prices (and syncing a batch's roots
side by side) ended orders with 'Stripe Error: The price specified is inactive' and left their
new line prices active: another process had replaced an entry's price (P7), the remembered one
was refused, and the retry meant to re-plan from fresh lookups was handed the same remembered
price again (the batch's other roots refill the memory while the refused one waits).
"""

from __future__ import annotations

import time

import pytest

from consumer.sync.planning import KnownPrice
from consumer.sync.planning.identity import price_lookup_key
from consumer.sync.stripe_lookup import StripeLookup
from consumer.sync.triggers import RecordRef
from cpqsync_sandbox.stripe_emulator import StripeEmulator
from tests.sync.test_request_economy import caller_for, new_price

pytestmark = pytest.mark.integration

ENTRY = "01uDp0000000RETRYA"


def test_a_retry_sees_the_price_another_process_put_in_place_of_a_remembered_one(
    emulator: StripeEmulator,
) -> None:
    caller = caller_for(emulator)
    lookup = StripeLookup(caller, sandbox=False)
    key = price_lookup_key(ENTRY, sandbox=False)
    old = new_price(caller, key)
    records = {RecordRef("PricebookEntry", ENTRY): {"Id": ENTRY, "Product2": None}}
    assert lookup.view(records).known.prices[ENTRY].id == old.id

    # Another process replaces the entry's price (P7) behind this one's back.
    replacement = caller.call(
        lambda c: c.v1.prices.create(
            {
                "currency": "usd",
                "unit_amount": 120,
                "lookup_key": key,
                "transfer_lookup_key": True,
                "product": str(old.product),
            }
        )
    )
    caller.call(lambda c: c.v1.prices.update(old.id, {"active": False}))

    first = lookup.view(records)
    assert (first.known.prices[ENTRY].id, first.remembered) == (old.id, True)  # what was refused
    retry = lookup.view(records, deep=True)
    known = retry.known.prices[ENTRY]
    assert known.id == replacement.id
    assert known.price is not None and known.price["active"] is True
    assert retry.remembered is False


def test_a_new_product_lines_price_is_its_phase_items_not_its_proration_items(
    emulator: StripeEmulator,
) -> None:
    """An amendment's new product line is its own original line, so its phase carries two
    entries naming it: the recurring item on the line's price, and the proration item on a
    one-time price made from price_data. The line's price is the recurring one (long chaos run
    A4: taking the proration's made every later sync of the contract plan the line's price
    create again, replaying the 500 Stripe had stored for its key)."""
    caller = caller_for(emulator)
    lookup = StripeLookup(caller, sandbox=False)
    customer = caller.call(lambda c: c.v1.customers.create({"name": "A"}))
    line = "802Dp00000NEWLINE"
    price = caller.call(
        lambda c: c.v1.prices.create(
            {
                "currency": "usd",
                "unit_amount": 6000,
                "recurring": {"interval": "month"},
                "product_data": {"name": "Add-on"},
                "metadata": {"salesforce_order_item_id": line},
            }
        )
    )
    named = {"metadata": {"salesforce_order_item_id": line}}
    start = int(time.time()) + 3 * 86400
    schedule = caller.call(
        lambda c: c.v1.subscription_schedules.create(
            {
                "customer": customer.id,
                "start_date": start,
                "phases": [
                    {
                        "items": [{"price": price.id, "quantity": 2, **named}],
                        "add_invoice_items": [
                            {
                                "price_data": {
                                    "currency": "usd",
                                    "product": str(price.product),
                                    "unit_amount": 5000,
                                },
                                "quantity": 2,
                                **named,
                            }
                        ],
                        "duration": {"interval": "month", "interval_count": 12},
                    }
                ],
            }
        )
    )
    for deep in (False, True):
        known = _line_price_found(lookup, "801Dp00000AMENDED", schedule.id, line, deep=deep)
        assert known.id == price.id
        assert known.price is not None and known.price["type"] == "recurring"


def _line_price_found(
    lookup: StripeLookup, order: str, schedule_id: str, line: str, *, deep: bool
) -> KnownPrice:
    """The price the lookups give an order's one line, its order naming its schedule."""
    records = {
        RecordRef("Order", order): {
            "Id": order,
            "Stripe_ID__c": schedule_id,
            "OrderItems": {
                "records": [{"Id": line, "SBQQ__SubscriptionPricing__c": "Fixed Price"}]
            },
        }
    }
    return lookup.view(records, deep=deep).known.line_prices[line]


def test_an_uneven_term_lines_price_is_its_own_not_its_final_phases_remainder_price(
    emulator: StripeEmulator,
) -> None:
    """An 18-month term billed yearly (O7): the line's own price (P6, archived once used) in
    the whole year's phase, and a 6-month remainder price made from price_data in the final
    phase. The line's price is its own (long chaos run 7: taking the remainder's made every
    later sync of the contract plan the line's price create again, and with a 500 stored for
    its key, make a second price for the line under a new key)."""
    caller = caller_for(emulator)
    lookup = StripeLookup(caller, sandbox=False)
    customer = caller.call(lambda c: c.v1.customers.create({"name": "A"}))
    line = "802Dp00000UNEVEN1"
    named = {"metadata": {"salesforce_order_item_id": line}}
    price = caller.call(
        lambda c: c.v1.prices.create(
            {
                "currency": "usd",
                "unit_amount": 120000,
                "recurring": {"interval": "month", "interval_count": 12},
                "product_data": {"name": "Platform"},
                "metadata": {**named["metadata"], "salesforce_auto_archive": "true"},
            }
        )
    )
    start = int(time.time()) + 3 * 86400
    year = {"interval": "month", "interval_count": 12}
    schedule = caller.call(
        lambda c: c.v1.subscription_schedules.create(
            {
                "customer": customer.id,
                "start_date": start,
                "end_behavior": "cancel",
                "phases": [
                    {"items": [{"price": price.id, "quantity": 2, **named}], "duration": year},
                    {
                        "items": [
                            {
                                "price_data": {
                                    "currency": "usd",
                                    "product": str(price.product),
                                    "unit_amount": 60000,
                                    "recurring": {"interval": "month", "interval_count": 6},
                                },
                                "quantity": 2,
                                **named,
                            }
                        ],
                        "billing_cycle_anchor": "phase_start",
                        "proration_behavior": "none",
                        "duration": {"interval": "month", "interval_count": 6},
                    },
                ],
            }
        )
    )
    caller.call(lambda c: c.v1.prices.update(price.id, {"active": False}))  # P6
    for deep in (False, True):
        known = _line_price_found(lookup, "801Dp00000UNEVEN1", schedule.id, line, deep=deep)
        assert known.id == price.id
        assert known.price is not None and known.price["recurring"]["interval_count"] == 12
