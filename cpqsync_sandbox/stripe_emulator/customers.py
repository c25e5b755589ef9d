"""Customers: create, retrieve (deleted ones answer their deletion stub), update, list, delete."""

from __future__ import annotations

from typing import Any

from stripe.params import (
    CustomerCreateParams,
    CustomerDeleteParams,
    CustomerListParams,
    CustomerRetrieveParams,
    CustomerUpdateParams,
)

from cpqsync_sandbox.stripe_emulator.errors import resource_missing
from cpqsync_sandbox.stripe_emulator.listing import created_filter, paginate
from cpqsync_sandbox.stripe_emulator.metadata import merged
from cpqsync_sandbox.stripe_emulator.routing import Call, Route, route
from cpqsync_sandbox.stripe_emulator.store import base_object, new_id

_ADDRESS_FIELDS = ("city", "country", "line1", "line2", "postal_code", "state")
_PLAIN_FIELDS = ("description", "email", "name", "phone", "tax_exempt", "preferred_locales")
_EDITABLE = {*_PLAIN_FIELDS, "address", "shipping", "metadata", "invoice_settings"}


def _address(value: Any) -> dict[str, Any] | None:
    if not value:
        return None
    return {field: value.get(field) for field in _ADDRESS_FIELDS}


def _shipping(value: Any) -> dict[str, Any] | None:
    if not value:
        return None
    return {
        "address": _address(value.get("address")),
        "name": value.get("name"),
        "phone": value.get("phone"),
    }


def _apply(customer: dict[str, Any], params: dict[str, Any]) -> None:
    for name in _PLAIN_FIELDS:
        if name in params:
            customer[name] = params[name] if params[name] != "" else None
    if "address" in params:
        customer["address"] = _address(params["address"])
    if "shipping" in params:
        customer["shipping"] = _shipping(params["shipping"])
    if "invoice_settings" in params:
        settings = params["invoice_settings"]
        customer["invoice_settings"].update(
            {k: (v if v != "" else None) for k, v in settings.items()}
        )
    customer["metadata"] = merged(customer.get("metadata"), params.get("metadata"))


def create(call: Call) -> dict[str, Any]:
    params = call.params
    clock_id = params.get("test_clock")
    if clock_id is not None:
        call.store.require("test_helpers.test_clock", clock_id, "test_clock")
    # A customer on a test clock is created at the clock's time (its created event too).
    clock = call.store.get("test_helpers.test_clock", clock_id) if clock_id else None
    created = int(clock["frozen_time"]) if clock else call.store.now()
    customer = base_object("customer", new_id("cus"), created)
    customer.update(
        {
            "address": None,
            "balance": 0,
            "currency": None,
            "default_source": None,
            "delinquent": False,
            "description": None,
            "discount": None,
            "email": None,
            "invoice_prefix": new_id("x")[3:11].upper(),
            "invoice_settings": {
                "custom_fields": None,
                "default_payment_method": None,
                "footer": None,
                "rendering_options": None,
            },
            "metadata": {},
            "name": None,
            "next_invoice_sequence": 1,
            "phone": None,
            "preferred_locales": [],
            "shipping": None,
            "tax_exempt": "none",
            "test_clock": clock_id,
        }
    )
    _apply(customer, params)
    call.store.add(customer)
    return customer


def retrieve(call: Call) -> dict[str, Any]:
    customer_id = call.arg("customer")
    found = call.store.get("customer", customer_id) or call.store.deleted["customer"].get(
        customer_id
    )
    if found is None:
        raise resource_missing("customer", customer_id, "id", status=404)
    return found


def update(call: Call) -> dict[str, Any]:
    customer = call.store.require("customer", call.arg("customer"), status=404)
    _apply(customer, call.params)
    return customer


def delete(call: Call) -> dict[str, Any]:
    customer_id = call.arg("customer")
    call.store.require("customer", customer_id, status=404)
    return call.store.delete("customer", customer_id)


def list_(call: Call) -> dict[str, Any]:
    params = call.params
    items = call.store.newest_first("customer")
    if "email" in params:
        items = [c for c in items if c["email"] == params["email"]]  # exact, case-sensitive
    if "test_clock" in params:
        items = [c for c in items if c["test_clock"] == params["test_clock"]]
    items = created_filter(items, params.get("created"))
    return paginate(items, params, "/v1/customers", "customer")


_PAGING = {"limit", "starting_after", "ending_before", "created"}

ROUTES: list[Route] = [
    route("POST", "/v1/customers", CustomerCreateParams, create, {*_EDITABLE, "test_clock"}),
    route("GET", "/v1/customers/{customer}", CustomerRetrieveParams, retrieve),
    route("POST", "/v1/customers/{customer}", CustomerUpdateParams, update, _EDITABLE),
    route("DELETE", "/v1/customers/{customer}", CustomerDeleteParams, delete),
    route("GET", "/v1/customers", CustomerListParams, list_, {*_PAGING, "email", "test_clock"}),
]
