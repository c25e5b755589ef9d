"""Billing meters and meter events: what metered prices (``recurring.meter``) bill from."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from stripe.params.billing import (
    MeterCreateParams,
    MeterDeactivateParams,
    MeterEventCreateParams,
    MeterListParams,
    MeterReactivateParams,
    MeterRetrieveParams,
    MeterUpdateParams,
)

from cpqsync_sandbox.stripe_emulator.errors import invalid
from cpqsync_sandbox.stripe_emulator.listing import paginate
from cpqsync_sandbox.stripe_emulator.routing import Call, Route, route
from cpqsync_sandbox.stripe_emulator.store import Store, base_object, new_id


def create(call: Call) -> dict[str, Any]:
    params, store = call.params, call.store
    event_name = params["event_name"]
    if any(
        m["event_name"] == event_name and m["status"] == "active"
        for m in store.tables["billing.meter"].values()
    ):
        raise invalid(
            f"An active meter with event_name '{event_name}' already exists.", "event_name"
        )
    now = store.now()
    meter = base_object("billing.meter", new_id("mtr"), now)
    meter.update(
        {
            "customer_mapping": params.get(
                "customer_mapping", {"event_payload_key": "stripe_customer_id", "type": "by_id"}
            ),
            "default_aggregation": {"formula": params["default_aggregation"]["formula"]},
            "display_name": params["display_name"],
            "event_name": event_name,
            "event_time_window": params.get("event_time_window"),
            "status": "active",
            "status_transitions": {"deactivated_at": None},
            "updated": now,
            "value_settings": params.get("value_settings", {"event_payload_key": "value"}),
        }
    )
    return store.add(meter)


def retrieve(call: Call) -> dict[str, Any]:
    return call.store.require("billing.meter", call.arg("id"), status=404)


def update(call: Call) -> dict[str, Any]:
    meter = call.store.require("billing.meter", call.arg("id"), status=404)
    if "display_name" in call.params:
        meter["display_name"] = call.params["display_name"]
    meter["updated"] = call.store.now()
    return meter


def _set_status(call: Call, status: str) -> dict[str, Any]:
    meter = call.store.require("billing.meter", call.arg("id"), status=404)
    now = call.store.now()
    meter["status"] = status
    meter["status_transitions"]["deactivated_at"] = now if status == "inactive" else None
    meter["updated"] = now
    return meter


def deactivate(call: Call) -> dict[str, Any]:
    return _set_status(call, "inactive")


def reactivate(call: Call) -> dict[str, Any]:
    return _set_status(call, "active")


def list_(call: Call) -> dict[str, Any]:
    items = call.store.newest_first("billing.meter")
    if "status" in call.params:
        items = [m for m in items if m["status"] == call.params["status"]]
    return paginate(items, call.params, "/v1/billing/meters", "billing meter")


def create_event(call: Call) -> dict[str, Any]:
    """Validated at once (Stripe reports some of these asynchronously; tests want them now)."""
    params, store = call.params, call.store
    meter = next(
        (
            m
            for m in store.tables["billing.meter"].values()
            if m["event_name"] == params["event_name"] and m["status"] == "active"
        ),
        None,
    )
    if meter is None:
        raise invalid(
            f"No active meter was found for event_name '{params['event_name']}'.", "event_name"
        )
    payload = params["payload"]
    customer_key = meter["customer_mapping"]["event_payload_key"]
    value_key = meter["value_settings"]["event_payload_key"]
    customer_id = payload.get(customer_key)
    if customer_id is None:
        raise invalid(
            f"Missing required param: payload[{customer_key}].", f"payload[{customer_key}]"
        )
    store.require("customer", customer_id, f"payload[{customer_key}]")
    try:
        Decimal(payload.get(value_key, "1"))
    except InvalidOperation:
        raise invalid(
            f"Invalid payload[{value_key}]: must be a number", f"payload[{value_key}]"
        ) from None
    identifier = params.get("identifier") or new_id("mev")
    if identifier in store.tables["billing.meter_event"]:
        raise invalid(f"An event with identifier '{identifier}' already exists.", "identifier")
    now = store.now(customer_id)
    event = {
        "id": identifier,
        "object": "billing.meter_event",
        "created": now,
        "event_name": params["event_name"],
        "identifier": identifier,
        "livemode": False,
        "payload": payload,
        "timestamp": params.get("timestamp", now),
    }
    return store.add(event)


def usage(store: Store, meter_id: str, customer_id: str, start: int, end: int) -> Decimal:
    """Aggregated usage of one customer on one meter in ``[start, end)``."""
    meter = store.tables["billing.meter"][meter_id]
    customer_key = meter["customer_mapping"]["event_payload_key"]
    value_key = meter["value_settings"]["event_payload_key"]
    values = [
        Decimal(event["payload"].get(value_key, "1"))
        for event in store.tables["billing.meter_event"].values()
        if event["event_name"] == meter["event_name"]
        and event["payload"].get(customer_key) == customer_id
        and start <= event["timestamp"] < end
    ]
    formula = meter["default_aggregation"]["formula"]
    if formula == "count":
        return Decimal(len(values))
    if formula == "last":
        return values[-1] if values else Decimal(0)
    return sum(values, Decimal(0))


_METER = {"customer_mapping", "default_aggregation", "display_name", "event_name"}

ROUTES: list[Route] = [
    route(
        "POST",
        "/v1/billing/meters",
        MeterCreateParams,
        create,
        {*_METER, "event_time_window", "value_settings"},
    ),
    route("GET", "/v1/billing/meters/{id}", MeterRetrieveParams, retrieve),
    route("POST", "/v1/billing/meters/{id}", MeterUpdateParams, update, {"display_name"}),
    route("POST", "/v1/billing/meters/{id}/deactivate", MeterDeactivateParams, deactivate),
    route("POST", "/v1/billing/meters/{id}/reactivate", MeterReactivateParams, reactivate),
    route(
        "GET",
        "/v1/billing/meters",
        MeterListParams,
        list_,
        {"limit", "starting_after", "ending_before", "status"},
    ),
    route(
        "POST",
        "/v1/billing/meter_events",
        MeterEventCreateParams,
        create_event,
        {"event_name", "identifier", "payload", "timestamp"},
    ),
]
