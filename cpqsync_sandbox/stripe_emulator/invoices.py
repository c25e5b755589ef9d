"""Invoice items and invoices: create, attach, finalize (number, hosted_invoice_url), pay, void."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from stripe.params import (
    InvoiceCreateParams,
    InvoiceDeleteParams,
    InvoiceFinalizeInvoiceParams,
    InvoiceItemCreateParams,
    InvoiceItemDeleteParams,
    InvoiceItemListParams,
    InvoiceItemRetrieveParams,
    InvoiceItemUpdateParams,
    InvoiceLineItemListParams,
    InvoiceListParams,
    InvoicePayParams,
    InvoiceRetrieveParams,
    InvoiceUpdateParams,
    InvoiceVoidInvoiceParams,
)

from cpqsync_sandbox.stripe_emulator import (
    amounts,
    customer_currency,
    invoice_discounts,
    invoicing,
)
from cpqsync_sandbox.stripe_emulator.errors import card_declined, invalid, missing_parameter
from cpqsync_sandbox.stripe_emulator.listing import created_filter, paginate
from cpqsync_sandbox.stripe_emulator.metadata import merged
from cpqsync_sandbox.stripe_emulator.prices import decimal_string
from cpqsync_sandbox.stripe_emulator.routing import Call, Route, route
from cpqsync_sandbox.stripe_emulator.store import base_object, new_id


def _draft(call: Call, invoice_id: str, param: str) -> dict[str, Any]:
    invoice = call.store.require("invoice", invoice_id, param)
    if invoice["status"] != "draft":
        raise invalid(
            f"You can only modify draft invoices; invoice {invoice_id} is {invoice['status']}.",
            param,
            code="invoice_not_editable",
        )
    return invoice


def create_item(call: Call) -> dict[str, Any]:
    params, store = call.params, call.store
    customer_id = params.get("customer")
    if customer_id is None:
        raise missing_parameter("customer")
    customer = store.require("customer", customer_id, "customer")
    now = store.now(customer_id)
    quantity = params.get("quantity", 1)
    price = None
    price_id = (params.get("pricing") or {}).get("price")
    if price_id is not None and "price_data" in params:
        raise invalid(
            "You may only specify one of these parameters: pricing[price], price_data.",
            "price_data",
        )
    if price_id is not None:
        price = store.require("price", price_id, "pricing[price]")
        if price["type"] != "one_time":
            raise invalid(
                "The price specified is set to `type=recurring` but this field only accepts "
                "prices with `type=one_time`.",
                "pricing[price]",
            )
        currency = price["currency"]
        amount = amounts.charge(price, Decimal(quantity))
        unit_decimal = price["unit_amount_decimal"]
    elif "price_data" in params:
        data = params["price_data"]
        store.require("product", data["product"], "price_data[product]")
        unit = data.get("unit_amount_decimal", data.get("unit_amount"))
        if unit is None:
            raise missing_parameter("price_data[unit_amount]")
        currency, unit_decimal = data["currency"].lower(), decimal_string(Decimal(unit))
        amount = int(Decimal(unit) * quantity)
    elif "amount" in params:
        if "currency" not in params:
            raise missing_parameter("currency")
        currency, amount = params["currency"].lower(), params["amount"]
        unit_decimal = decimal_string(Decimal(amount) / quantity)
    elif "unit_amount_decimal" in params:
        if "currency" not in params:
            raise missing_parameter("currency")
        currency = params["currency"].lower()
        unit_decimal = decimal_string(params["unit_amount_decimal"])
        amount = int(params["unit_amount_decimal"] * quantity)
    else:
        raise invalid(
            "You must specify either pricing[price], price_data, amount or unit_amount_decimal.",
            "amount",
        )
    invoice = _draft(call, params["invoice"], "invoice") if "invoice" in params else None
    if invoice is not None and invoice["customer"] != customer_id:
        raise invalid("The invoice belongs to another customer.", "invoice")
    customer_currency.require_item_currency(customer, currency, "currency")  # S5
    discountable = params.get("discountable", True)
    discounts = invoice_discounts.applied(
        store, params.get("discounts"), "discounts", currency=currency
    )
    if discounts and not discountable:
        raise invalid(
            "You cannot apply discounts to an invoice item that is not discountable.",
            "discounts",
        )
    customer_currency.bind(customer, currency)
    period = params.get("period", {"start": now, "end": now})
    item = base_object("invoiceitem", new_id("ii"), now)
    del item["created"]
    item.update(
        {
            "amount": amount,
            "currency": currency,
            "customer": customer_id,
            "date": now,
            "description": params.get("description")
            or (store.tables["product"][price["product"]]["name"] if price else None),
            "discountable": discountable,
            "discounts": [d["id"] for d in discounts],
            "_discounts": discounts,
            "invoice": None,
            "metadata": merged(None, params.get("metadata")),
            "net_amount": amount,
            "parent": None,
            "period": {"start": period["start"], "end": period["end"]},
            "pricing": {
                "price_details": (
                    {"price": price["id"], "product": price["product"]} if price else None
                ),
                "type": "price_details",
                "unit_amount_decimal": unit_decimal,
            },
            "proration": False,
            "quantity": quantity,
            "tax_rates": [],
            "test_clock": store.tables["customer"][customer_id]["test_clock"],
        }
    )
    store.add(item)
    if invoice is not None:
        invoicing.attach_item(store, invoice, item)
    return item


def retrieve_item(call: Call) -> dict[str, Any]:
    return call.store.require("invoiceitem", call.arg("invoiceitem"), status=404)


def update_item(call: Call) -> dict[str, Any]:
    item = call.store.require("invoiceitem", call.arg("invoiceitem"), status=404)
    if "description" in call.params:
        item["description"] = call.params["description"] or None
    item["metadata"] = merged(item["metadata"], call.params.get("metadata"))
    return item


def delete_item(call: Call) -> dict[str, Any]:
    item = call.store.require("invoiceitem", call.arg("invoiceitem"), status=404)
    if item["invoice"] is not None:
        invoice = _draft(call, item["invoice"], "invoiceitem")
        invoice["lines"]["data"] = [
            line
            for line in invoice["lines"]["data"]
            if (line["parent"]["invoice_item_details"] or {}).get("invoice_item") != item["id"]
        ]
        invoicing.recompute(call.store, invoice)
    return call.store.delete("invoiceitem", item["id"])


def list_items(call: Call) -> dict[str, Any]:
    params = call.params
    items = call.store.newest_first("invoiceitem")
    for name in ("customer", "invoice"):
        if name in params:
            items = [i for i in items if i[name] == params[name]]
    if params.get("pending"):
        items = [i for i in items if i["invoice"] is None]
    return paginate(items, params, "/v1/invoiceitems", "invoiceitem")


def create(call: Call) -> dict[str, Any]:
    params, store = call.params, call.store
    customer_id = params.get("customer")
    if customer_id is None:
        raise missing_parameter("customer")
    store.require("customer", customer_id, "customer")
    method = params.get("collection_method", "charge_automatically")
    days = params.get("days_until_due")
    if method == "send_invoice" and days is None and "due_date" not in params:
        raise missing_parameter("days_until_due")
    if method != "send_invoice" and days is not None:
        raise invalid(
            "days_until_due can only be set when collection_method is send_invoice.",
            "days_until_due",
        )
    currency = params.get("currency")
    discounts = invoice_discounts.applied(
        store, params.get("discounts"), "discounts", currency=currency and currency.lower()
    )
    now = store.now(customer_id)
    invoice = invoicing.new_invoice(
        store,
        customer_id,
        now=now,
        currency=currency,
        collection_method=method,
        days_until_due=days,
    )
    invoice["_discounts"] = discounts
    invoice["discounts"] = [d["id"] for d in discounts]
    invoice["auto_advance"] = params.get("auto_advance", False)
    invoice["description"] = params.get("description")
    invoice["footer"] = params.get("footer")
    invoice["metadata"] = merged(None, params.get("metadata"))
    if "due_date" in params:
        invoice["due_date"] = params["due_date"]
    if params.get("pending_invoice_items_behavior", "exclude") == "include":
        invoicing.attach_pending_items(store, invoice)
    return invoice


def retrieve(call: Call) -> dict[str, Any]:
    return call.store.require("invoice", call.arg("invoice"), status=404)


def update(call: Call) -> dict[str, Any]:
    invoice = call.store.require("invoice", call.arg("invoice"), status=404)
    params = call.params
    if invoice["status"] != "draft" and set(params) - {"metadata", "expand"}:
        raise invalid(
            "Finalized invoices can only have their metadata updated.",
            next(iter(set(params) - {"metadata", "expand"})),
            code="invoice_not_editable",
        )
    for name in ("auto_advance", "collection_method", "days_until_due", "description", "footer"):
        if name in params:
            invoice[name] = params[name] if params[name] != "" else None
    invoice["metadata"] = merged(invoice["metadata"], params.get("metadata"))
    return invoice


def delete(call: Call) -> dict[str, Any]:
    invoice = _draft(call, call.arg("invoice"), "id")
    for line in invoice["lines"]["data"]:
        item_id = (line["parent"]["invoice_item_details"] or {}).get("invoice_item")
        if item_id and item_id in call.store.tables["invoiceitem"]:
            call.store.tables["invoiceitem"][item_id]["invoice"] = None
    return call.store.delete("invoice", invoice["id"])


def finalize(call: Call) -> dict[str, Any]:
    invoice = call.store.require("invoice", call.arg("invoice"), status=404)
    invoicing.finalize(call.store, invoice, call.store.now(invoice["customer"]), call.base_url)
    if call.params.get("auto_advance") is not None:
        invoice["auto_advance"] = call.params["auto_advance"]
    return invoice


def pay(call: Call) -> dict[str, Any]:
    invoice = call.store.require("invoice", call.arg("invoice"), status=404)
    if invoice["status"] != "open":
        raise invalid(
            f"Invoice is already {invoice['status']}; only open invoices can be paid.",
            code="invoice_not_open" if invoice["status"] == "draft" else "invoice_already_paid",
        )
    now = call.store.now(invoice["customer"])
    if call.params.get("paid_out_of_band"):
        invoicing.mark_paid(call.store, invoice, now)
    elif not invoicing.collect(call.store, invoice, now):
        raise card_declined()
    return invoice


def void(call: Call) -> dict[str, Any]:
    invoice = call.store.require("invoice", call.arg("invoice"), status=404)
    if invoice["status"] != "open":
        raise invalid(f"You can only void open invoices; this one is {invoice['status']}.")
    invoice["status"] = "void"
    invoice["status_transitions"]["voided_at"] = call.store.now(invoice["customer"])
    return invoice


def list_(call: Call) -> dict[str, Any]:
    params = call.params
    items = call.store.newest_first("invoice")
    for name in ("customer", "status", "collection_method"):
        if name in params:
            items = [i for i in items if i[name] == params[name]]
    if "subscription" in params:
        items = [
            i
            for i in items
            if i["parent"]
            and i["parent"]["subscription_details"]["subscription"] == params["subscription"]
        ]
    items = created_filter(items, params.get("created"))
    return paginate(items, params, "/v1/invoices", "invoice")


def list_lines(call: Call) -> dict[str, Any]:
    invoice = call.store.require("invoice", call.arg("invoice"), status=404)
    return paginate(
        list(invoice["lines"]["data"]), call.params, invoice["lines"]["url"], "line_item"
    )


_PAGING = {"limit", "starting_after", "ending_before"}
_ITEM_CREATE = {
    "amount",
    "currency",
    "customer",
    "description",
    "discountable",
    "discounts",
    "invoice",
    "metadata",
    "period",
    "price_data",
    "pricing",
    "quantity",
    "unit_amount_decimal",
}
_INVOICE_CREATE = {
    "auto_advance",
    "collection_method",
    "currency",
    "customer",
    "days_until_due",
    "description",
    "discounts",
    "due_date",
    "footer",
    "metadata",
    "pending_invoice_items_behavior",
}

ROUTES: list[Route] = [
    route("POST", "/v1/invoiceitems", InvoiceItemCreateParams, create_item, _ITEM_CREATE),
    route("GET", "/v1/invoiceitems/{invoiceitem}", InvoiceItemRetrieveParams, retrieve_item),
    route(
        "POST",
        "/v1/invoiceitems/{invoiceitem}",
        InvoiceItemUpdateParams,
        update_item,
        {"description", "metadata"},
    ),
    route("DELETE", "/v1/invoiceitems/{invoiceitem}", InvoiceItemDeleteParams, delete_item),
    route(
        "GET",
        "/v1/invoiceitems",
        InvoiceItemListParams,
        list_items,
        {*_PAGING, "customer", "invoice", "pending"},
    ),
    route("POST", "/v1/invoices", InvoiceCreateParams, create, _INVOICE_CREATE),
    route("GET", "/v1/invoices/{invoice}", InvoiceRetrieveParams, retrieve),
    route(
        "POST",
        "/v1/invoices/{invoice}",
        InvoiceUpdateParams,
        update,
        {
            "auto_advance",
            "collection_method",
            "days_until_due",
            "description",
            "footer",
            "metadata",
        },
    ),
    route("DELETE", "/v1/invoices/{invoice}", InvoiceDeleteParams, delete),
    route(
        "POST",
        "/v1/invoices/{invoice}/finalize",
        InvoiceFinalizeInvoiceParams,
        finalize,
        {"auto_advance"},
    ),
    route("POST", "/v1/invoices/{invoice}/pay", InvoicePayParams, pay, {"paid_out_of_band"}),
    route("POST", "/v1/invoices/{invoice}/void", InvoiceVoidInvoiceParams, void),
    route(
        "GET",
        "/v1/invoices",
        InvoiceListParams,
        list_,
        {*_PAGING, "created", "customer", "status", "subscription", "collection_method"},
    ),
    route("GET", "/v1/invoices/{invoice}/lines", InvoiceLineItemListParams, list_lines, _PAGING),
]
