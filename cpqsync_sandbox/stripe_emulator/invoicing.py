"""Building invoices: drafts, lines, totals, finalisation. Used by the invoice endpoints and by
subscriptions when a period starts or ends."""

from __future__ import annotations

from typing import Any

from cpqsync_sandbox.stripe_emulator import invoice_discounts
from cpqsync_sandbox.stripe_emulator.errors import invalid
from cpqsync_sandbox.stripe_emulator.intervals import seconds
from cpqsync_sandbox.stripe_emulator.store import Store, base_object, new_id


def hosted_url(base_url: str, invoice_id: str) -> str:
    return f"{base_url}/_emulator/hosted_invoices/{invoice_id}"


def new_invoice(
    store: Store,
    customer_id: str,
    *,
    now: int,
    currency: str | None = None,
    collection_method: str = "charge_automatically",
    days_until_due: int | None = None,
    subscription_id: str | None = None,
    billing_reason: str = "manual",
    period: tuple[int, int] | None = None,
    discounts: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    customer = store.require("customer", customer_id, "customer")
    invoice = base_object("invoice", new_id("in"), now)
    start, end = period or (now, now)
    invoice.update(
        {
            "account_country": "US",
            "account_name": "cpqsync emulator",
            "account_tax_ids": None,
            "amount_due": 0,
            "amount_overpaid": 0,
            "amount_paid": 0,
            "amount_remaining": 0,
            "amount_shipping": 0,
            "attempt_count": 0,
            "attempted": False,
            "auto_advance": subscription_id is not None,
            "automatic_tax": {
                "disabled_reason": None,
                "enabled": False,
                "liability": None,
                "provider": None,
                "status": None,
            },
            "billing_reason": billing_reason,
            "collection_method": collection_method,
            "currency": currency or customer.get("currency") or "usd",
            "custom_fields": None,
            "customer": customer_id,
            "customer_email": customer["email"],
            "customer_name": customer["name"],
            "customer_phone": customer["phone"],
            "customer_address": customer["address"],
            "customer_shipping": customer["shipping"],
            "customer_tax_exempt": customer["tax_exempt"],
            "customer_tax_ids": [],
            "days_until_due": days_until_due,
            "default_tax_rates": [],
            "description": None,
            "discounts": [],
            "due_date": None,
            "ending_balance": None,
            "hosted_invoice_url": None,
            "invoice_pdf": None,
            "issuer": {"type": "self"},
            "lines": {
                "object": "list",
                "data": [],
                "has_more": False,
                "total_count": 0,
                "url": f"/v1/invoices/{invoice['id']}/lines",
            },
            "metadata": {},
            "number": None,
            "parent": (
                {
                    "quote_details": None,
                    "subscription_details": {"metadata": {}, "subscription": subscription_id},
                    "type": "subscription_details",
                }
                if subscription_id
                else None
            ),
            "payment_settings": {
                "default_mandate": None,
                "payment_method_options": None,
                "payment_method_types": None,
            },
            "period_end": end,
            "period_start": start,
            "post_payment_credit_notes_amount": 0,
            "pre_payment_credit_notes_amount": 0,
            "starting_balance": 0,
            "status": "draft",
            "status_transitions": {
                "finalized_at": None,
                "marked_uncollectible_at": None,
                "paid_at": None,
                "voided_at": None,
            },
            "subtotal": 0,
            "subtotal_excluding_tax": 0,
            "test_clock": customer["test_clock"],
            "total": 0,
            "total_discount_amounts": [],
            "total_excluding_tax": 0,
            "total_pretax_credit_amounts": [],
            "total_taxes": [],
            "webhooks_delivered_at": now,
        }
    )
    # A subscription's discounts in force (``subscription_discounts.take``).
    invoice["_discounts"] = list(discounts or [])
    invoice["discounts"] = [d["id"] for d in invoice["_discounts"]]
    store.add(invoice)
    return invoice


def add_line(
    invoice: dict[str, Any],
    *,
    amount: int,
    currency: str,
    description: str | None,
    price: dict[str, Any] | None,
    quantity: int | None,
    period: tuple[int, int],
    invoice_item_id: str | None = None,
    subscription_item_id: str | None = None,
    metadata: dict[str, str] | None = None,
    proration: bool = False,
    discountable: bool = True,
    discounts: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """A line on a draft invoice, parented by the invoice item or subscription item it bills
    (``discounts``: the invoice item's own, ``invoice_discounts.applied``)."""
    if currency != invoice["currency"]:
        if invoice["lines"]["data"]:
            raise invalid(
                f"The currency of this line ({currency}) does not match the invoice's "
                f"({invoice['currency']}).",
                "currency",
            )
        invoice["currency"] = currency
    subscription = (invoice["parent"] or {}).get("subscription_details", {}).get("subscription")
    parent: dict[str, Any]
    if subscription_item_id is not None:
        parent = {
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": None,
                "proration": False,
                "proration_details": {"credited_items": None},
                "subscription": subscription,
                "subscription_item": subscription_item_id,
            },
            "type": "subscription_item_details",
        }
    else:
        parent = {
            "invoice_item_details": {
                "invoice_item": invoice_item_id,
                "proration": proration,
                "proration_details": {"credited_items": None},
                "subscription": subscription,
            },
            "subscription_item_details": None,
            "type": "invoice_item_details",
        }
    line = {
        "id": new_id("il"),
        "object": "line_item",
        "amount": amount,
        "currency": currency,
        "description": description,
        "discount_amounts": [],
        "discountable": discountable,
        "discounts": [d["id"] for d in discounts or []],
        "_discounts": list(discounts or []),
        "invoice": invoice["id"],
        "livemode": False,
        "metadata": metadata or {},
        "parent": parent,
        "period": {"start": period[0], "end": period[1]},
        "pretax_credit_amounts": [],
        "pricing": (
            {
                "price_details": {"price": price["id"], "product": price["product"]},
                "type": "price_details",
                "unit_amount_decimal": price["unit_amount_decimal"],
            }
            if price
            else None
        ),
        "quantity": quantity,
        "subtotal": amount,
        "taxes": [],
    }
    invoice["lines"]["data"].append(line)
    invoice["lines"]["total_count"] = len(invoice["lines"]["data"])
    return line


def recompute(store: Store, invoice: dict[str, Any]) -> None:
    """Totals; discounts take from discountable lines only (Stripe: never prorations), the
    lines' own first, then the invoice's (``invoice_discounts``)."""
    subtotal = sum(line["amount"] for line in invoice["lines"]["data"])
    remaining = subtotal - invoice_discounts.apply(store, invoice)
    invoice["subtotal"] = invoice["subtotal_excluding_tax"] = subtotal
    invoice["total"] = invoice["total_excluding_tax"] = remaining
    invoice["amount_due"] = remaining
    invoice["amount_remaining"] = remaining - invoice["amount_paid"]


def finalize(store: Store, invoice: dict[str, Any], now: int, base_url: str) -> None:
    if invoice["status"] != "draft":
        raise invalid(
            "This invoice is already finalized, you can't re-finalize a non-draft invoice.",
            "invoice",
            code="invoice_not_editable",
        )
    before = store.snapshot(invoice)
    recompute(store, invoice)
    customer = store.require("customer", invoice["customer"], "customer")
    invoice["number"] = f"{customer['invoice_prefix']}-{customer['next_invoice_sequence']:04d}"
    customer["next_invoice_sequence"] += 1
    invoice["status"] = "open"
    invoice["status_transitions"]["finalized_at"] = now
    invoice["hosted_invoice_url"] = hosted_url(base_url, invoice["id"])
    invoice["invoice_pdf"] = invoice["hosted_invoice_url"] + "/pdf"
    invoice["effective_at"] = now
    invoice["ending_balance"] = 0
    if invoice["collection_method"] == "send_invoice":
        invoice["due_date"] = now + seconds(invoice["days_until_due"] or 0)
    store.changed(invoice, before)
    if invoice["amount_due"] == 0:
        mark_paid(store, invoice, now)


def mark_paid(store: Store, invoice: dict[str, Any], now: int) -> None:
    before = store.snapshot(invoice)
    invoice["status"] = "paid"
    invoice["amount_paid"] = invoice["amount_due"]
    invoice["amount_remaining"] = 0
    invoice["attempted"] = True
    invoice["status_transitions"]["paid_at"] = now
    invoice["next_payment_attempt"] = None
    store.changed(invoice, before)
    subscription_id = ((invoice["parent"] or {}).get("subscription_details") or {}).get(
        "subscription"
    )
    subscription = store.get("subscription", subscription_id) if subscription_id else None
    # Paying the subscription's latest invoice ends its past_due state.
    if (
        subscription
        and subscription["status"] == "past_due"
        and subscription["latest_invoice"] == invoice["id"]
    ):
        subscription["status"] = "active"
    customer = store.get("customer", invoice["customer"])
    if customer is not None and customer["delinquent"]:
        customer["delinquent"] = any(
            other["status"] == "open" and other["attempted"]
            for other in store.customer_objects(customer["id"])
            if other["object"] == "invoice"
        )


# Smart Retries' first retry of a failed automatic charge comes some days later.
RETRY_AFTER_FAILURE_S = 3 * 24 * 3600


def collect(store: Store, invoice: dict[str, Any], now: int) -> bool:
    """Charge an open ``charge_automatically`` invoice to the customer's default payment
    method; True when paid. A card that declines leaves the invoice open with the attempt
    counted (invoice.payment_failed); a customer without a payment method pays, as the
    emulator's stand-in for a working card on file."""
    customer = store.require("customer", invoice["customer"], "customer")
    method_id = customer["invoice_settings"].get("default_payment_method")
    method = store.get("payment_method", method_id) if method_id else None
    if method is None or not method["_declines"]:
        invoice["attempt_count"] += 1
        mark_paid(store, invoice, now)
        return True
    before = store.snapshot(invoice)
    invoice["attempted"] = True
    invoice["attempt_count"] += 1
    invoice["next_payment_attempt"] = now + RETRY_AFTER_FAILURE_S
    # Stripe marks a customer delinquent while an automatic charge of theirs has failed.
    customer["delinquent"] = True
    store.emit(invoice, "payment_failed")
    store.emit(invoice, "updated", before)
    return False


def attach_pending_items(store: Store, invoice: dict[str, Any]) -> None:
    """Pending invoice items of the customer join this invoice (Stripe's ``include``)."""
    for item in list(store.tables["invoiceitem"].values()):
        if item["customer"] == invoice["customer"] and item["invoice"] is None:
            attach_item(store, invoice, item)


def attach_item(store: Store, invoice: dict[str, Any], item: dict[str, Any]) -> None:
    price = None
    if item["pricing"] and item["pricing"]["price_details"]:
        price = store.get("price", item["pricing"]["price_details"]["price"])
    item["invoice"] = invoice["id"]
    add_line(
        invoice,
        amount=item["amount"],
        currency=item["currency"],
        description=item["description"],
        price=price,
        quantity=item["quantity"],
        period=(item["period"]["start"], item["period"]["end"]),
        invoice_item_id=item["id"],
        metadata=item["metadata"],
        proration=item["proration"],
        discountable=item["discountable"],
        discounts=item.get("_discounts"),
    )
    recompute(store, invoice)
