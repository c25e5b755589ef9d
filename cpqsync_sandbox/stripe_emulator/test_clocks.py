"""Test clocks: customers created on a clock live at its frozen time; advancing the clock
starts due schedules and rolls their subscriptions (invoices for every period passed)."""

from __future__ import annotations

from typing import Any

from stripe.params.test_helpers import (
    TestClockAdvanceParams,
    TestClockCreateParams,
    TestClockDeleteParams,
    TestClockListParams,
    TestClockRetrieveParams,
)

from cpqsync_sandbox.stripe_emulator import schedules
from cpqsync_sandbox.stripe_emulator.change_watch import watch
from cpqsync_sandbox.stripe_emulator.errors import invalid
from cpqsync_sandbox.stripe_emulator.intervals import seconds
from cpqsync_sandbox.stripe_emulator.listing import paginate
from cpqsync_sandbox.stripe_emulator.routing import Call, Route, route
from cpqsync_sandbox.stripe_emulator.store import base_object, new_id

KIND = "test_helpers.test_clock"


def create(call: Call) -> dict[str, Any]:
    now = call.store.now()
    clock = base_object(KIND, new_id("clock"), now)
    clock.update(
        {
            "deletes_after": now + seconds(30),
            "frozen_time": call.params["frozen_time"],
            "name": call.params.get("name"),
            "status": "ready",
            "status_details": {"advancing": None},
        }
    )
    return call.store.add(clock)


def retrieve(call: Call) -> dict[str, Any]:
    return call.store.require(KIND, call.arg("test_clock"), status=404)


def advance(call: Call) -> dict[str, Any]:
    """Synchronous here; Stripe answers ``advancing`` and later ``ready``, so clients that
    poll until ready work unchanged."""
    store = call.store
    clock = store.require(KIND, call.arg("test_clock"), status=404)
    target = call.params["frozen_time"]
    if target <= clock["frozen_time"]:
        raise invalid(
            "The frozen_time must be after the test clock's current frozen_time "
            f"({clock['frozen_time']}).",
            "frozen_time",
        )
    clock["frozen_time"] = target
    store.emit(clock, "advancing")
    customers = store.tables["customer"].values()
    on_clock = [c["id"] for c in customers if c["test_clock"] == clock["id"]]
    with watch(store, customer_ids=on_clock):
        for schedule in list(store.tables["subscription_schedule"].values()):
            if schedule["test_clock"] == clock["id"]:
                schedules.catch_up(store, schedule, target, call.base_url)
    store.emit(clock, "ready")
    return clock


def delete(call: Call) -> dict[str, Any]:
    store = call.store
    clock_id = call.arg("test_clock")
    store.require(KIND, clock_id, status=404)
    for customer in list(store.tables["customer"].values()):
        if customer["test_clock"] == clock_id:
            store.delete("customer", customer["id"])
    return store.delete(KIND, clock_id)


def list_(call: Call) -> dict[str, Any]:
    return paginate(
        call.store.newest_first(KIND), call.params, "/v1/test_helpers/test_clocks", "test clock"
    )


ROUTES: list[Route] = [
    route(
        "POST",
        "/v1/test_helpers/test_clocks",
        TestClockCreateParams,
        create,
        {"frozen_time", "name"},
    ),
    route("GET", "/v1/test_helpers/test_clocks/{test_clock}", TestClockRetrieveParams, retrieve),
    route(
        "POST",
        "/v1/test_helpers/test_clocks/{test_clock}/advance",
        TestClockAdvanceParams,
        advance,
        {"frozen_time"},
    ),
    route("DELETE", "/v1/test_helpers/test_clocks/{test_clock}", TestClockDeleteParams, delete),
    route(
        "GET",
        "/v1/test_helpers/test_clocks",
        TestClockListParams,
        list_,
        {"limit", "starting_after", "ending_before"},
    ),
]
