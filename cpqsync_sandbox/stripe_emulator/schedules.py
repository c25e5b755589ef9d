"""Subscription schedules: phases with end_date or duration, update by replacing phases,
cancel, release, list by customer. A schedule whose start date has come starts its
subscription (see ``subscriptions``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stripe.params import (
    SubscriptionScheduleCancelParams,
    SubscriptionScheduleCreateParams,
    SubscriptionScheduleListParams,
    SubscriptionScheduleReleaseParams,
    SubscriptionScheduleRetrieveParams,
    SubscriptionScheduleUpdateParams,
)

from cpqsync_sandbox.stripe_emulator import (
    invoice_discounts,
    prices,
    subscription_discounts,
    subscriptions,
)
from cpqsync_sandbox.stripe_emulator.errors import (
    exclusive,
    invalid,
    missing_parameter,
    not_implemented,
)
from cpqsync_sandbox.stripe_emulator.intervals import add_interval
from cpqsync_sandbox.stripe_emulator.listing import paginate
from cpqsync_sandbox.stripe_emulator.metadata import merged
from cpqsync_sandbox.stripe_emulator.routing import Call, Route, route
from cpqsync_sandbox.stripe_emulator.store import Store, base_object, new_id

_PHASE_FIELDS = frozenset(
    {
        "add_invoice_items",
        "billing_cycle_anchor",
        "collection_method",
        "description",
        "discounts",
        "duration",
        "end_date",
        "invoice_settings",
        "items",
        "metadata",
        "proration_behavior",
        "start_date",
    }
)
_ITEM_FIELDS = frozenset({"price", "price_data", "quantity", "metadata", "discounts"})
_ADD_ITEM_FIELDS = frozenset({"price", "price_data", "quantity", "metadata", "discounts"})


def _only(fields: frozenset[str], given: dict[str, Any], where: str) -> None:
    for key in given:
        if key not in fields:
            raise not_implemented(f"the parameter {where}[{key}] on subscription schedules")


@dataclass
class _Request:
    """What one schedule request works from: the prices its schedule already uses (``held``:
    an archived price keeps billing where it is, since Stripe requires ended phases to be sent
    back unchanged, archived prices and all; only a new use of it is refused), and the prices
    its ``price_data`` makes, stored only once the whole request is accepted (``commit``)."""

    store: Store
    held: frozenset[str] = frozenset()
    made: list[dict[str, Any]] = field(default_factory=list)
    # The subscription the schedule runs: the discounts an entry ``{discount}`` may reuse.
    subscription: str | None = None

    def commit(self) -> None:
        for price in self.made:
            self.store.add(price)


def _price_for(
    request: _Request,
    entry: dict[str, Any],
    param: Callable[[str], str],
    *,
    recurring: bool,
) -> dict[str, Any]:
    store = request.store
    if "price" in entry and "price_data" in entry:
        raise exclusive(param("price"), param("price_data"))
    if "price_data" in entry:
        price = prices.inline_price(
            store, entry["price_data"], param("price_data"), recurring=recurring
        )
        request.made.append(price)
        return price
    if "price" not in entry:
        raise missing_parameter(param("price"))
    price = store.require("price", entry["price"], param("price"))
    wanted, other = ("recurring", "one_time") if recurring else ("one_time", "recurring")
    if price["type"] != wanted:
        raise invalid(
            f"The price specified is set to `type={other}` but this field only accepts prices "
            f"with `type={wanted}`.",
            param("price"),
        )
    if not price["active"] and price["id"] not in request.held:
        raise invalid(
            "The price specified is inactive. This field only accepts active prices.",
            param("price"),
        )
    return price


def _phase_items(
    request: _Request, phase: dict[str, Any], index: int
) -> tuple[list[dict[str, Any]], str, tuple[str, int]]:
    """The phase's items, their currency and their billing interval."""
    items: list[dict[str, Any]] = []
    cadence: tuple[str, int] | None = None
    currency: str | None = None
    for j, entry in enumerate(phase["items"]):
        _only(_ITEM_FIELDS, entry, f"phases[{index}][items][{j}]")

        def param(field: str, j: int = j) -> str:
            return f"phases[{index}][items][{j}][{field}]"

        price = _price_for(request, entry, param, recurring=True)
        recurring = price["recurring"]
        metered = recurring["usage_type"] == "metered"
        if metered and "quantity" in entry:
            raise invalid("You cannot set the quantity for metered plans.", param("quantity"))
        quantity = None if metered else entry.get("quantity", 1)
        if quantity is not None and quantity < 0:
            raise invalid(f"Invalid {param('quantity')}: must be at least 0", param("quantity"))
        if any(i["price"] == price["id"] for i in items):
            raise invalid(
                "Cannot add multiple subscription items with the same price.", param("price")
            )
        this_cadence = (recurring["interval"], recurring["interval_count"])
        if cadence is not None and this_cadence != cadence:
            raise invalid(
                "All prices on a phase must share one billing interval (the emulator does not "
                "model mixed intervals).",
                param("price"),
            )
        if currency is not None and price["currency"] != currency:
            raise invalid("All prices on a phase must use the same currency.", param("price"))
        cadence, currency = this_cadence, price["currency"]
        items.append(
            {
                "billing_thresholds": None,
                "discounts": _discounts(
                    request,
                    entry.get("discounts"),
                    param("discounts"),
                    price["currency"],
                    item_level=True,
                ),
                "metadata": merged(None, entry.get("metadata")),
                "price": price["id"],
                "quantity": quantity,
                "tax_rates": [],
            }
        )
    if not items or cadence is None:
        raise missing_parameter(f"phases[{index}][items]")
    return items, str(currency), cadence


def _discounts(
    request: _Request, given: Any, param: str, currency: str, *, item_level: bool = False
) -> list[dict[str, Any]]:
    """A phase's, phase item's or add_invoice_item's ``discounts`` as Stripe shows them, once
    Stripe would take them (``invoice_discounts.entries``: known, valid coupons, amount-off
    ones in ``currency``, at most 20; a ``{discount}`` entry names one the schedule's
    subscription holds, ``subscription_discounts.reusable``)."""

    def reuse(discount_id: str, where: str) -> dict[str, Any]:
        return subscription_discounts.reusable(
            request.store, discount_id, request.subscription, item_level=item_level, param=where
        )

    return invoice_discounts.entries(request.store, given, param, currency=currency, reuse=reuse)


def build_phases(
    request: _Request,
    given: list[dict[str, Any]],
    start: int,
    defaults: dict[str, Any],
    now: int,
) -> list[dict[str, Any]]:
    """Phases as Stripe returns them, each with its computed start_date and end_date."""
    store = request.store
    result: list[dict[str, Any]] = []
    cursor = start
    for index, phase in enumerate(given):
        _only(_PHASE_FIELDS, phase, f"phases[{index}]")

        def param(field: str, index: int = index) -> str:
            return f"phases[{index}][{field}]"

        if "start_date" in phase and index > 0:
            begin = now if phase["start_date"] == "now" else phase["start_date"]
            if begin != cursor:
                raise invalid(
                    f"Invalid {param('start_date')}: a phase must start when the previous "
                    "phase ends.",
                    param("start_date"),
                )
        if "end_date" in phase and "duration" in phase:
            raise exclusive(param("duration"), param("end_date"))
        items, currency, (interval, count) = _phase_items(request, phase, index)
        if "end_date" in phase:
            end = now if phase["end_date"] == "now" else phase["end_date"]
        elif "duration" in phase:
            duration = phase["duration"]
            end = add_interval(cursor, duration["interval"], duration.get("interval_count", 1))
        elif index == len(given) - 1:
            end = add_interval(cursor, interval, count)
        else:
            raise missing_parameter(param("end_date"))
        if end <= cursor:
            raise invalid(
                f"Invalid {param('end_date')}: the phase must end after it starts "
                f"(start {cursor}, end {end}).",
                param("end_date"),
            )
        add_items = []
        for j, entry in enumerate(phase.get("add_invoice_items") or []):
            _only(_ADD_ITEM_FIELDS, entry, f"phases[{index}][add_invoice_items][{j}]")

            def add_param(field: str, j: int = j, index: int = index) -> str:
                return f"phases[{index}][add_invoice_items][{j}][{field}]"

            price = _price_for(request, entry, add_param, recurring=False)
            add_items.append(
                {
                    # Reusing a discount on a one-time item is not modelled (501).
                    "discounts": invoice_discounts.entries(
                        store,
                        entry.get("discounts"),
                        add_param("discounts"),
                        currency=price["currency"],
                    ),
                    "metadata": merged(None, entry.get("metadata")),
                    "period": {
                        "end": {"timestamp": None, "type": "phase_end"},
                        "start": {"timestamp": None, "type": "phase_start"},
                    },
                    "price": price["id"],
                    "quantity": entry.get("quantity", 1),
                    "tax_rates": [],
                }
            )
        method = phase.get("collection_method") or defaults["collection_method"]
        invoice_settings = phase.get("invoice_settings")
        days = (invoice_settings or {}).get("days_until_due")
        if (
            method == "send_invoice"
            and days is None
            and defaults["invoice_settings"]["days_until_due"] is None
        ):
            raise missing_parameter(param("invoice_settings][days_until_due"))
        result.append(
            {
                "add_invoice_items": add_items,
                "application_fee_percent": None,
                "automatic_tax": None,
                "billing_cycle_anchor": phase.get("billing_cycle_anchor"),
                "billing_thresholds": None,
                "collection_method": phase.get("collection_method"),
                "currency": currency,
                "default_payment_method": None,
                "default_tax_rates": [],
                "description": phase.get("description") or None,
                "discounts": _discounts(
                    request, phase.get("discounts"), param("discounts"), currency
                ),
                "end_date": end,
                "invoice_settings": (
                    {"account_tax_ids": None, "days_until_due": days, "issuer": None}
                    if invoice_settings is not None
                    else None
                ),
                "items": items,
                "metadata": merged(None, phase.get("metadata")),
                "on_behalf_of": None,
                "proration_behavior": phase.get("proration_behavior", "create_prorations"),
                "start_date": cursor,
                "transfer_data": None,
                "trial_end": None,
            }
        )
        cursor = end
    return result


def _defaults(given: dict[str, Any], current: dict[str, Any] | None = None) -> dict[str, Any]:
    _only(
        frozenset({"billing_cycle_anchor", "collection_method", "description", "invoice_settings"}),
        given,
        "default_settings",
    )
    settings = current or {
        "application_fee_percent": None,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor": "automatic",
        "billing_thresholds": None,
        "collection_method": "charge_automatically",
        "default_payment_method": None,
        "description": None,
        "invoice_settings": {
            "account_tax_ids": None,
            "days_until_due": None,
            "issuer": {"account": None, "type": "self"},
        },
        "on_behalf_of": None,
        "transfer_data": None,
    }
    for name in ("billing_cycle_anchor", "collection_method", "description"):
        if name in given:
            settings[name] = given[name] or None
    if "invoice_settings" in given:
        days = given["invoice_settings"].get("days_until_due")
        settings["invoice_settings"]["days_until_due"] = days
    return settings


def create(call: Call) -> dict[str, Any]:
    params, store = call.params, call.store
    customer_id = params.get("customer")
    if customer_id is None:
        raise missing_parameter("customer")
    customer = store.require("customer", customer_id, "customer")
    if "phases" not in params:
        raise missing_parameter("phases")
    now = store.now(customer_id)
    start = params.get("start_date", "now")
    start = now if start == "now" else start
    defaults = _defaults(params.get("default_settings", {}))
    request = _Request(store)
    phases = build_phases(request, params["phases"], start, defaults, now)
    schedule = base_object("subscription_schedule", new_id("sub_sched"), now)
    schedule.update(
        {
            "application": None,
            "billing_mode": {
                "flexible": None,
                "type": params.get("billing_mode", {}).get("type", "classic"),
                "updated_at": None,
            },
            "canceled_at": None,
            "completed_at": None,
            "current_phase": None,
            "customer": customer_id,
            "customer_account": None,
            "default_settings": defaults,
            "end_behavior": params.get("end_behavior", "release"),
            "metadata": merged(None, params.get("metadata")),
            "phases": phases,
            "released_at": None,
            "released_subscription": None,
            "status": "not_started",
            "subscription": None,
            "test_clock": customer["test_clock"],
        }
    )
    request.commit()
    store.add(schedule)
    catch_up(store, schedule, now, call.base_url)
    return schedule


def catch_up(store: Store, schedule: dict[str, Any], now: int, base_url: str) -> None:
    """Start the schedule if its time has come and play its subscription forward to ``now``."""
    if schedule["status"] == "not_started" and schedule["phases"][0]["start_date"] <= now:
        subscriptions.start(store, schedule, base_url)
    sub_id = schedule["subscription"] or schedule["released_subscription"]
    if sub_id:
        subscriptions.advance(store, store.tables["subscription"][sub_id], now, base_url)


def retrieve(call: Call) -> dict[str, Any]:
    return call.store.require("subscription_schedule", call.arg("schedule"), status=404)


def _editable(schedule: dict[str, Any], action: str) -> None:
    if schedule["status"] not in ("not_started", "active"):
        raise invalid(
            f"You cannot {action} a subscription schedule that is currently in the "
            f"`{schedule['status']}` status. It must be in `not_started` or `active` status.",
        )


def _same_phase(old: dict[str, Any], new: dict[str, Any]) -> bool:
    def key(phase: dict[str, Any]) -> tuple[Any, ...]:
        return (
            phase["start_date"],
            phase["end_date"],
            tuple((i["price"], i["quantity"]) for i in phase["items"]),
        )

    return key(old) == key(new)


def _check_history(
    old_phases: list[dict[str, Any]],
    new_phases: list[dict[str, Any]],
    given: list[dict[str, Any]],
    now: int,
) -> None:
    """An active schedule's past is fixed: phases that have ended come back unchanged, the
    current phase keeps its start, and no phase that has not ended may end in the past."""
    for index, old in enumerate(old_phases):
        if old["end_date"] <= now:
            if index >= len(new_phases) or not _same_phase(old, new_phases[index]):
                raise invalid(
                    f"Phases that have ended must be sent back unchanged (phases[{index}]).",
                    f"phases[{index}]",
                )
            continue
        current = old["start_date"] <= now
        if current and (
            index >= len(new_phases) or new_phases[index]["start_date"] != old["start_date"]
        ):
            raise invalid(
                "You can not modify the start date of the current phase.",
                f"phases[{index}][start_date]",
            )
        break
    for index, phase in enumerate(new_phases):
        ended_before = index < len(old_phases) and old_phases[index]["end_date"] <= now
        if not ended_before and phase["end_date"] < now and given[index].get("end_date") != "now":
            raise invalid(
                f"Invalid phases[{index}][end_date]: a phase that has not ended cannot end in "
                "the past; send `now` to end it at once.",
                f"phases[{index}][end_date]",
            )


def update(call: Call) -> dict[str, Any]:
    params, store = call.params, call.store
    schedule = store.require("subscription_schedule", call.arg("schedule"), status=404)
    _editable(schedule, "update")
    now = store.now(schedule["customer"])
    # Like Stripe, all or nothing: every parameter is checked before anything changes.
    defaults = schedule["default_settings"]
    if "default_settings" in params:
        defaults = _defaults(params["default_settings"], schedule["default_settings"])
    metadata = merged(schedule["metadata"], params.get("metadata"))
    phases = None
    if "phases" in params:
        given = params["phases"]
        if not given or "start_date" not in given[0]:
            raise invalid(
                "The subscription schedule update is missing at least one phase with a "
                "`start_date` to anchor end dates to.",
                "phases[0][start_date]",
            )
        first = given[0]["start_date"]
        start = now if first == "now" else first
        held = frozenset(
            item["price"]
            for phase in schedule["phases"]
            for item in (*phase["items"], *phase["add_invoice_items"])
        )
        request = _Request(store, held, subscription=schedule["subscription"])
        phases = build_phases(request, given, start, defaults, now)
        if schedule["status"] == "active":
            _check_history(schedule["phases"], phases, given, now)
        request.commit()
    schedule["default_settings"] = defaults
    if "end_behavior" in params:
        schedule["end_behavior"] = params["end_behavior"]
    schedule["metadata"] = metadata
    if phases is not None:
        schedule["phases"] = phases
        behavior = params.get("proration_behavior", "create_prorations")
        _follow_phases(store, schedule, now, behavior, call.base_url)
    catch_up(store, schedule, now, call.base_url)
    return schedule


def _follow_phases(
    store: Store, schedule: dict[str, Any], now: int, behavior: str, base_url: str
) -> None:
    """After phases change, the running subscription takes the phase now current: a phase the
    update starts now is entered as at its start date, a rewritten running phase changes the
    subscription's items, both prorated per the update's ``proration_behavior``."""
    if schedule["subscription"] is None:
        return
    sub = store.tables["subscription"][schedule["subscription"]]
    index = next(
        (i for i, p in enumerate(schedule["phases"]) if p["start_date"] <= now < p["end_date"]),
        len(schedule["phases"]) - 1,
    )
    phase = schedule["phases"][index]
    if index != sub["_billing"]["phase"]:
        subscriptions.enter_phase(store, sub, schedule, index, now, base_url, behavior=behavior)
        return
    # Stripe: the running phase's ``{coupon}`` entries make new discounts (their durations
    # start over), its ``{discount}`` entries keep the ones it holds.
    subscriptions.hold_discounts(sub, subscription_discounts.held(store, phase, now, sub))
    schedule["current_phase"] = {"start_date": phase["start_date"], "end_date": phase["end_date"]}
    subscriptions.change_items(store, sub, phase, now, behavior, base_url)


def cancel(call: Call) -> dict[str, Any]:
    store = call.store
    schedule = store.require("subscription_schedule", call.arg("schedule"), status=404)
    _editable(schedule, "cancel")
    now = store.now(schedule["customer"])
    if schedule["subscription"]:
        sub = store.tables["subscription"][schedule["subscription"]]
        subscriptions.end(
            store, sub, now, call.base_url, bill_usage=call.params.get("invoice_now", True)
        )
    schedule.update(status="canceled", canceled_at=now, current_phase=None)
    return schedule


def release(call: Call) -> dict[str, Any]:
    store = call.store
    schedule = store.require("subscription_schedule", call.arg("schedule"), status=404)
    _editable(schedule, "release")
    now = store.now(schedule["customer"])
    sub_id = schedule["subscription"]
    if sub_id:
        store.tables["subscription"][sub_id]["schedule"] = None
    schedule.update(
        status="released",
        released_at=now,
        released_subscription=sub_id,
        subscription=None,
        current_phase=None,
    )
    return schedule


def list_(call: Call) -> dict[str, Any]:
    params = call.params
    items = call.store.newest_first("subscription_schedule")
    if "customer" in params:
        items = [s for s in items if s["customer"] == params["customer"]]
    if "scheduled" in params:
        items = [s for s in items if (s["status"] == "not_started") is params["scheduled"]]
    return paginate(items, params, "/v1/subscription_schedules", "subscription schedule")


_CREATE = {"customer", "start_date", "end_behavior", "default_settings", "phases", "metadata"}

ROUTES: list[Route] = [
    route(
        "POST",
        "/v1/subscription_schedules",
        SubscriptionScheduleCreateParams,
        create,
        {*_CREATE, "billing_mode"},
    ),
    route(
        "GET",
        "/v1/subscription_schedules/{schedule}",
        SubscriptionScheduleRetrieveParams,
        retrieve,
    ),
    route(
        "POST",
        "/v1/subscription_schedules/{schedule}",
        SubscriptionScheduleUpdateParams,
        update,
        {"default_settings", "end_behavior", "metadata", "phases", "proration_behavior"},
    ),
    route(
        "POST",
        "/v1/subscription_schedules/{schedule}/cancel",
        SubscriptionScheduleCancelParams,
        cancel,
        {"invoice_now", "prorate"},
    ),
    route(
        "POST",
        "/v1/subscription_schedules/{schedule}/release",
        SubscriptionScheduleReleaseParams,
        release,
    ),
    route(
        "GET",
        "/v1/subscription_schedules",
        SubscriptionScheduleListParams,
        list_,
        {"limit", "starting_after", "ending_before", "customer", "scheduled"},
    ),
]
