"""An order's report of its entry's price says when Stripe said it is the entry's (fix 20).

Long chaos run 6 (main 5901faa) ended with two PricebookEntry records naming a price their own
P7 replacement had archived. An order's sync confirms, with a retrieve, that the entry price it
found is still the entry's before reporting it (fix 11), but the report was stamped when the
order's results were built. The entry's own sync could replace the price in between; its
result, built earlier, reached the writeback first, and the order's report, looking newer,
put the archived price back.
"""

from __future__ import annotations

from functools import partial

import pytest

from consumer.sync.dashboard import DashboardLinks
from consumer.sync.planning.identity import price_lookup_key
from consumer.sync.results import Attempt, ResultBuilder
from consumer.sync.stripe_lookup import StripeLookup
from consumer.sync.triggers import RecordRef
from consumer.sync.unmarked_objects import unmarked_objects
from consumer.writeback.batch_plan import Skip, plan_batch
from consumer.writeback.stored_records import StoredSyncRecord
from cpqsync_sandbox.stripe_emulator import StripeEmulator
from tests.sync.test_request_economy import caller_for, new_price

pytestmark = pytest.mark.integration

ENTRY = "01uDp0000000REPRTA"
ORDER = "801Dp0000000REPRTA"


def test_an_orders_report_of_an_entry_price_replaced_meanwhile_loses_to_the_replacement(
    emulator: StripeEmulator,
) -> None:
    caller = caller_for(emulator)
    lookup = StripeLookup(caller, sandbox=False)
    key = price_lookup_key(ENTRY, sandbox=False)
    first = new_price(caller, key)
    entry = {"Id": ENTRY, "Stripe_ID__c": "price_0lderThanTheOrdersView", "Product2": None}
    order = {"Id": ORDER, "OrderItems": {"records": [{"Id": "802A", "PricebookEntry": entry}]}}
    view = lookup.view({RecordRef("PricebookEntry", ENTRY): entry})

    # The order's sync confirms the price it found is the entry's (fix 11) ...
    [unmarked] = unmarked_objects(
        order, view.known, partial(lookup.current_price_seen_at, view=view)
    )
    # ... then the entry's own sync replaces it (P7) and builds its result ...
    replacement = caller.call(
        lambda c: c.v1.prices.create(
            {
                "currency": "usd",
                "unit_amount": 120,
                "lookup_key": key,
                "transfer_lookup_key": True,
                "product": str(first.product),
            }
        )
    )
    caller.call(lambda c: c.v1.prices.update(first.id, {"active": False}))
    builder = ResultBuilder(DashboardLinks())
    entrys_own = builder.up_to_date(
        Attempt(RecordRef("PricebookEntry", ENTRY)), ("price", replacement.id)
    )
    # ... and only then are the order's results built.
    [report] = builder.already_synced(Attempt(RecordRef("Order", ORDER)), [unmarked])

    assert (report.primary_record_id, report.stripe_object_id) == (ENTRY, first.id)
    assert report.attempted_at < entrys_own.attempted_at

    # The writeback has written the entry's own result; the order's report comes after it.
    stored = StoredSyncRecord("a00A", ENTRY, ENTRY, "Success", entrys_own.attempted_at)
    plan = plan_batch([report], [stored])
    assert plan.skipped == {0: Skip.STALE}
    assert plan.updates == []
