"""A retry re-plans from what Stripe holds, not from what the process remembers.

Chaos CI runs after the sync began remembering pricebook prices (and syncing a batch's roots
side by side) ended orders with 'Stripe Error: The price specified is inactive' and left their
new line prices active: another process had replaced an entry's price (P7), the remembered one
was refused, and the retry meant to re-plan from fresh lookups was handed the same remembered
price again (the batch's other roots refill the memory while the refused one waits).
"""

from __future__ import annotations

import pytest

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
