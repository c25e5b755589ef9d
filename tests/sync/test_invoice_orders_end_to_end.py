"""Orders of one-time lines only, invoiced (O3), through the real clients and a running stack."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.sync.stack import Stack
from tests.sync.test_contract_end_to_end import (
    _line_prices_for,
    running,  # noqa: F401 - the fixture
)
from tests.sync.test_order_shapes_end_to_end import _order
from tests.writeback.support import wait_until

pytestmark = pytest.mark.integration


def test_a_line_price_left_active_when_its_archive_failed_after_the_invoice_is_archived(
    running: Stack,  # noqa: F811
) -> None:
    """P6 with O3 (chaos CI run, 2026-12-06): the attempt finalized the order's invoice, then
    Stripe failed every try of archiving the line's own price. The retry finds the invoice
    and rightly invoices nothing more; it must still archive the price the invoice used."""
    stack = running
    one_time = {"SBQQ__SubscriptionPricing__c": None, "SBQQ__ChargeType__c": "One-Time"}
    order, [training] = _order(
        stack.org,
        dt.datetime.now(dt.UTC).date(),
        12,
        [{**one_time, "product": "Training", "Quantity": 2, "UnitPrice": 125}],
    )
    [rule] = stack.stripe.configure_faults(
        {  # every try of the attempt's archive (the caller's first send and its two retries)
            "kind": "error",
            "method": "POST",
            "path": "^/v1/prices/price_",
            "rate": 1.0,
            "max_count": 3,
        }
    )
    stack.org.activate_order(order)
    wait_until(lambda: rule.fired == 3, 60, "the archive's three 500s")

    def archived() -> bool:
        return [p["active"] for p in _line_prices_for(stack, training)] == [False]

    try:
        wait_until(archived, 60, f"line {training}'s own price archived")
    except AssertionError as exc:
        left = [(p["id"], p["active"]) for p in _line_prices_for(stack, training)]
        raise AssertionError(f"{exc}; the line's prices: {left}") from None
    invoices: list[dict[str, Any]] = [
        i
        for i in stack.stripe.objects("invoice")
        if i["metadata"].get("salesforce_order_id") == order
    ]
    assert [i["status"] for i in invoices] == ["open"], "invoiced once, finalized"
    wait_until(
        lambda: stack.org.get("Order", order).get("Stripe_ID__c") == invoices[0]["id"],
        60,
        "the invoice's id written back to the order",
    )
