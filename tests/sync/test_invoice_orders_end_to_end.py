"""Orders of one-time lines only, invoiced (O3), through the real clients and a running stack."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from consumer.sync.manual import request_sync
from tests.sync.stack import Stack
from tests.sync.test_contract_end_to_end import (
    _line_prices_for,
    running,  # noqa: F401 - the fixture
)
from tests.sync.test_order_shapes_end_to_end import _order
from tests.writeback.support import wait_until

pytestmark = pytest.mark.integration

ONE_TIME = {"SBQQ__SubscriptionPricing__c": None, "SBQQ__ChargeType__c": "One-Time"}


def test_a_line_price_left_active_when_its_archive_failed_after_the_invoice_is_archived(
    running: Stack,  # noqa: F811
) -> None:
    """P6 with O3 (chaos CI run, 2026-12-06): the attempt finalized the order's invoice, then
    Stripe failed every try of archiving the line's own price. The retry finds the invoice
    and rightly invoices nothing more; it must still archive the price the invoice used."""
    stack = running
    order, [training] = _order(
        stack.org,
        dt.datetime.now(dt.UTC).date(),
        12,
        [{**ONE_TIME, "product": "Training", "Quantity": 2, "UnitPrice": 125}],
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


def test_a_draft_invoices_item_keeps_its_price_when_the_entry_moves_before_the_retry(
    running: Stack,  # noqa: F811
) -> None:
    """O3 under chaos (the CI run of 2026-12-06 22:41): an attempt made the invoice and the
    line's item on its entry's price, then finalizing failed. Before the retry the entry's
    price changed, so the line no longer equals its entry and would take a price of its own
    (P6). The item's key names the line alone (a line is never billed twice), and Stripe
    refuses another price under it for ever: the retry must keep the draft item's price."""
    stack = running
    order, [setup] = _order(
        stack.org,
        dt.datetime.now(dt.UTC).date(),
        12,
        [{**ONE_TIME, "product": "Setup", "Quantity": 1, "UnitPrice": 500, "entry_price": 500}],
    )
    entry = str(stack.org.get("OrderItem", setup)["PricebookEntryId"])

    def entry_price() -> dict[str, Any] | None:
        for price in stack.stripe.objects("price"):
            metadata = price["metadata"]
            if price.get("active") and metadata.get("salesforce_pricebook_entry_id") == entry:
                return dict(price)
        return None

    product = str(stack.org.get("PricebookEntry", entry)["Product2Id"])
    stack.org.update(  # a one-time product, whose entry's price a one-time line can bill
        "Product2",
        product,
        {"SBQQ__SubscriptionPricing__c": None, "SBQQ__BillingFrequency__c": None},
    )
    request_sync(  # the entry synced first (S4, by hand), so the line bills its price
        stack.settings.kafka,
        stack.kafka,
        entry,
        object_type="PricebookEntry",
        requested_by="cli:test",
        timeout_s=90,
    )
    wait_until(lambda: entry_price() is not None, 60, "the entry's own price")
    first = entry_price()
    assert first is not None
    [rule] = stack.stripe.configure_faults(
        {"kind": "error", "method": "POST", "path": "^/v1/invoices/.*/finalize$", "rate": 1.0}
    )
    stack.org.activate_order(order)
    wait_until(lambda: rule.fired >= 3, 60, "the finalize's 500s")
    stack.org.update("PricebookEntry", entry, {"UnitPrice": 600})
    fired = rule.fired
    # Retries plan the order again, now on the moved entry, while finalizing still fails.
    moved = "retries reaching the finalize after the entry moved"
    wait_until(lambda: rule.fired >= fired + 2, 60, moved)
    stack.stripe.configure_faults()

    def invoice() -> dict[str, Any] | None:
        for held in stack.stripe.objects("invoice"):
            if held["metadata"].get("salesforce_order_id") == order:
                return dict(held)
        return None

    try:
        wait_until(lambda: (invoice() or {}).get("status") == "open", 60, "the invoice finalized")
    except AssertionError as exc:
        refused = [e.status for e in stack.stripe.request_log() if e.status == 400]
        raise AssertionError(f"{exc}; 400s since: {len(refused)}") from None
    billed = invoice()
    assert billed is not None and billed["amount_due"] == 50000, "billed once, at 500.00"
    assert _line_prices_for(stack, setup) == [], "no price of its own made for the line"
    [item] = [i for i in stack.stripe.objects("invoiceitem") if i["invoice"] == billed["id"]]
    assert item["pricing"]["price_details"]["price"] == first["id"]
