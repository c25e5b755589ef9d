"""A plain order corrected after it synced (its running phase's quantity changed) bills no
proration, end to end: org simulator -> bridge -> Kafka -> sync -> Stripe emulator.

A re-sync corrects what the order sold; it is not a change sold in the middle of a billing
period (that is a CPQ amendment, which bills the rest of the period itself: rule A1). So the
schedule update says ``proration_behavior: none``; without it Stripe's default
(``create_prorations``) would credit the old quantity and charge the new one for the rest of
the period, on the customer's next invoice (docs/sync.md, "Orders corrected after they sync").
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.stripe_emulator.conftest import make_client
from tests.sync.stack import Stack
from tests.sync.test_contract_end_to_end import (
    _month_start,
    _schedule_of,
    running,  # noqa: F401 - the fixture
)
from tests.sync.test_order_shapes_end_to_end import _order, _synced
from tests.writeback.support import wait_until

pytestmark = pytest.mark.integration


def test_a_corrected_quantity_of_a_running_order_creates_no_proration(
    running: Stack,  # noqa: F811
) -> None:
    stack = running
    org = stack.org
    # Two months into a 12-month term: the current billing period is under way.
    start = _month_start(dt.datetime.now(dt.UTC).date(), 2)
    seats = {"product": "Seats", "Quantity": 5, "UnitPrice": 1200, "entry_price": 100}
    order, [line] = _order(org, start, 12, [seats])
    org.activate_order(order)
    schedule = _synced(stack, order, 1)
    client = make_client(stack.stripe)
    customer = str(schedule["customer"])
    invoices_before = client.v1.invoices.list(params={"customer": customer, "limit": 100}).data
    assert invoices_before  # the backdated periods were billed
    assert client.v1.invoice_items.list(params={"customer": customer}).data == []

    org.update("OrderItem", line, {"Quantity": 7})  # corrected: 7 seats were sold

    def corrected() -> bool:
        held = _schedule_of(stack, order)
        return held is not None and [i["quantity"] for i in held["phases"][0]["items"]] == [7]

    wait_until(corrected, 90, f"order {order}'s schedule to bill 7 seats")
    subscription = client.v1.subscriptions.retrieve(str(schedule["subscription"]))
    assert [i.quantity for i in subscription["items"].data] == [7]
    # Nothing billed for the correction: no proration items, no invoice.
    assert client.v1.invoice_items.list(params={"customer": customer}).data == []
    invoices_after = client.v1.invoices.list(params={"customer": customer, "limit": 100}).data
    assert [i.id for i in invoices_after] == [i.id for i in invoices_before]
