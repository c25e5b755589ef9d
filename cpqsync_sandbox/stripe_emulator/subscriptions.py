"""Subscriptions started by schedules, and how they move through time.

Kept deliberately simple but real: a subscription bills licensed items in
advance for each period and metered items in arrears (from meter events),
moves to the next phase at each phase end, and at the end of the last phase
is canceled (``end_behavior=cancel``) or released. Invoices are finalized at
once (Stripe waits about an hour); ``charge_automatically`` invoices are
marked paid, as if the customer had a working default payment method.
A phase that starts inside a billing period keeps the billing cycle unless it
needs a new anchor (``billing_cycle_anchor: phase_start``, or prices of another
interval); its ``proration_behavior`` decides what the change itself bills
(``prorations``). The emulator's README lists what is and is not modelled.

Bookkeeping lives under the ``_billing`` key, which responses never show.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from stripe.params import (
    SubscriptionCancelParams,
    SubscriptionListParams,
    SubscriptionRetrieveParams,
    SubscriptionUpdateParams,
)

from cpqsync_sandbox.stripe_emulator import amounts, invoicing, meters, subscription_discounts
from cpqsync_sandbox.stripe_emulator.errors import invalid
from cpqsync_sandbox.stripe_emulator.intervals import boundary
from cpqsync_sandbox.stripe_emulator.listing import paginate
from cpqsync_sandbox.stripe_emulator.metadata import merged
from cpqsync_sandbox.stripe_emulator.prorations import Proration, prorations
from cpqsync_sandbox.stripe_emulator.routing import Call, Route, route
from cpqsync_sandbox.stripe_emulator.store import Store, base_object, new_id


def phase_setting(schedule: dict[str, Any], phase: dict[str, Any], name: str) -> Any:
    """A phase's own value, else the schedule's default_settings (Stripe's inheritance)."""
    value = phase.get(name)
    if value is None:
        value = schedule["default_settings"].get(name)
    return value


def days_until_due(schedule: dict[str, Any], phase: dict[str, Any]) -> int | None:
    own = (phase.get("invoice_settings") or {}).get("days_until_due")
    if own is None:
        own = schedule["default_settings"]["invoice_settings"].get("days_until_due")
    return own  # type: ignore[no-any-return]


def _plan(price: dict[str, Any]) -> dict[str, Any]:
    recurring = price["recurring"]
    return {
        "id": price["id"],
        "object": "plan",
        "active": price["active"],
        "amount": price["unit_amount"],
        "amount_decimal": price["unit_amount_decimal"],
        "billing_scheme": price["billing_scheme"],
        "created": price["created"],
        "currency": price["currency"],
        "interval": recurring["interval"],
        "interval_count": recurring["interval_count"],
        "livemode": False,
        "metadata": price["metadata"],
        "meter": recurring["meter"],
        "nickname": price["nickname"],
        "product": price["product"],
        "tiers_mode": price["tiers_mode"],
        "transform_usage": None,
        "trial_period_days": recurring["trial_period_days"],
        "usage_type": recurring["usage_type"],
    }


def _items(
    store: Store,
    sub: dict[str, Any],
    phase: dict[str, Any],
    now: int,
    period: tuple[int, int],
    previous: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """The subscription's items for ``phase``; an item whose price it held before
    (``previous``) keeps its id and creation time, as Stripe updates it in place. Each item
    holds the discounts its phase item's entries name (``subscription_discounts.held``: a
    ``{coupon}`` entry makes a new one, a ``{discount}`` entry keeps the one named)."""
    kept = {item["price"]: item for item in previous or []}
    items = []
    for entry in phase["items"]:
        price = store.tables["price"][entry["price"]]
        before = kept.get(price["id"])
        item_id = before["id"] if before else new_id("si")
        held = subscription_discounts.held(store, entry, now, sub, item_id)
        items.append(
            {
                "id": item_id,
                "object": "subscription_item",
                "billing_thresholds": None,
                "created": before["created"] if before else now,
                "current_period_start": period[0],
                "current_period_end": period[1],
                "discounts": [d["id"] for d in held],
                "_discounts": held,
                "metadata": dict(entry.get("metadata") or {}),
                "plan": _plan(price),
                "price": price["id"],
                "quantity": entry.get("quantity"),
                "subscription": sub["id"],
                "tax_rates": [],
            }
        )
    return items


def hold_discounts(sub: dict[str, Any], held: list[dict[str, Any]]) -> None:
    """The subscription's own discounts from now on (its phase's), listed in ``discounts``."""
    sub["_billing"]["discounts"] = held
    sub["discounts"] = [d["id"] for d in held]


def cadence(store: Store, phase: dict[str, Any]) -> tuple[str, int]:
    price = store.tables["price"][phase["items"][0]["price"]]
    return price["recurring"]["interval"], price["recurring"]["interval_count"]


def start(store: Store, schedule: dict[str, Any], base_url: str) -> dict[str, Any]:
    """The subscription a schedule starts at its start date, with its first invoice."""
    phase = schedule["phases"][0]
    begin = phase["start_date"]
    interval, count = cadence(store, phase)
    period = (begin, boundary(begin, interval, count, 1))
    sub = base_object("subscription", new_id("sub"), begin)
    method = phase_setting(schedule, phase, "collection_method") or "charge_automatically"
    sub.update(
        {
            "application": None,
            "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
            "billing_cycle_anchor": begin,
            "billing_mode": schedule["billing_mode"],
            "billing_schedules": [],
            "cancel_at": None,
            "cancel_at_period_end": False,
            "canceled_at": None,
            "cancellation_details": {"comment": None, "feedback": None, "reason": None},
            "collection_method": method,
            "currency": store.tables["price"][phase["items"][0]["price"]]["currency"],
            "customer": schedule["customer"],
            "days_until_due": days_until_due(schedule, phase),
            "default_tax_rates": [],
            "description": phase_setting(schedule, phase, "description"),
            "discounts": [],
            "ended_at": None,
            "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
            "latest_invoice": None,
            "metadata": dict(phase.get("metadata") or {}),
            "schedule": schedule["id"],
            "start_date": begin,
            "status": "active",
            "test_clock": schedule["test_clock"],
            "_billing": {
                "anchor": begin,
                "periods": 1,
                "interval": interval,
                "interval_count": count,
                "phase": 0,
                "period": period,
                "discounts": [],
            },
        }
    )
    hold_discounts(sub, subscription_discounts.held(store, phase, begin, sub))
    sub["items"] = {
        "object": "list",
        "data": _items(store, sub, phase, begin, period),
        "has_more": False,
        "total_count": len(phase["items"]),
        "url": f"/v1/subscription_items?subscription={sub['id']}",
    }
    store.add(sub)
    schedule["subscription"] = sub["id"]
    schedule["status"] = "active"
    schedule["current_phase"] = {"start_date": begin, "end_date": phase["end_date"]}
    _bill(store, sub, begin, "subscription_create", None, period, phase, base_url)
    return sub


def _bill(
    store: Store,
    sub: dict[str, Any],
    at: int,
    reason: str,
    usage_period: tuple[int, int] | None,
    licensed_period: tuple[int, int] | None,
    phase: dict[str, Any] | None,
    base_url: str,
) -> None:
    """One subscription invoice: metered usage in arrears, licensed items in advance,
    the phase's add_invoice_items and the customer's pending invoice items, less the
    discounts in force (``subscription_discounts``): each item's on its own lines, then the
    subscription's on the invoice."""
    schedule = store.get("subscription_schedule", sub["schedule"]) if sub["schedule"] else None
    coupons = subscription_discounts.take(store, sub["_billing"]["discounts"], at)
    start_end = usage_period or licensed_period or (at, at)
    invoice = invoicing.new_invoice(
        store,
        sub["customer"],
        now=at,
        currency=sub["currency"],
        collection_method=sub["collection_method"],
        days_until_due=sub["days_until_due"],
        subscription_id=sub["id"],
        billing_reason=reason,
        period=start_end,
        discounts=coupons,
    )
    for item in sub["items"]["data"]:
        price = store.tables["price"][item["price"]]
        product_name = store.tables["product"][price["product"]]["name"]
        metered = price["recurring"]["usage_type"] == "metered"
        if metered and usage_period is not None:
            used = meters.usage(store, price["recurring"]["meter"], sub["customer"], *usage_period)
            invoicing.add_line(
                invoice,
                amount=amounts.charge(price, used),
                currency=price["currency"],
                description=f"{used} x {product_name}",
                price=price,
                quantity=int(used),
                period=usage_period,
                subscription_item_id=item["id"],
                discounts=subscription_discounts.take(store, item["_discounts"], at),
            )
        elif not metered and licensed_period is not None:
            quantity = item["quantity"] or 1
            invoicing.add_line(
                invoice,
                amount=amounts.charge(price, Decimal(quantity)),
                currency=price["currency"],
                description=f"{quantity} x {product_name}",
                price=price,
                quantity=quantity,
                period=licensed_period,
                subscription_item_id=item["id"],
                discounts=subscription_discounts.take(store, item["_discounts"], at),
            )
    if phase is not None and licensed_period is not None and schedule is not None:
        for entry in phase.get("add_invoice_items") or []:
            price = store.tables["price"][entry["price"]]
            quantity = entry.get("quantity") or 1
            item = _invoice_item(store, sub, price, quantity, at, entry=entry)
            invoicing.attach_item(store, invoice, item)
    invoicing.attach_pending_items(store, invoice)
    invoicing.finalize(store, invoice, at, base_url)
    if invoice["status"] == "open" and invoice["collection_method"] == "charge_automatically":
        paid = invoicing.collect(store, invoice, at)
        sub["status"] = "active" if paid else "past_due"
    sub["latest_invoice"] = invoice["id"]


def _invoice_item(
    store: Store,
    sub: dict[str, Any],
    price: dict[str, Any],
    quantity: int,
    at: int,
    proration: Proration | None = None,
    *,
    entry: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A pending invoice item of the subscription: a phase's add_invoice_item (``entry``,
    whose ``discounts`` make the item's own), or a proration (Stripe: never discountable,
    tied to the subscription item it prorates)."""
    discounts = [
        {"id": new_id("di"), "coupon": d["coupon"]} for d in (entry or {}).get("discounts") or []
    ]
    item = {
        "id": new_id("ii"),
        "object": "invoiceitem",
        "livemode": False,
        "amount": proration.amount if proration else amounts.charge(price, Decimal(quantity)),
        "currency": price["currency"],
        "customer": sub["customer"],
        "date": at,
        "description": (
            proration.description
            if proration
            else store.tables["product"][price["product"]]["name"]
        ),
        "discountable": proration is None,
        "discounts": [d["id"] for d in discounts],
        "_discounts": discounts,
        "invoice": None,
        "metadata": {},
        "parent": {
            "subscription_details": {
                "subscription": sub["id"],
                "subscription_item": proration.subscription_item if proration else None,
            },
            "type": "subscription_details",
        },
        "period": (
            {"start": proration.period[0], "end": proration.period[1]}
            if proration
            else {"start": at, "end": at}
        ),
        "pricing": {
            "price_details": {"price": price["id"], "product": price["product"]},
            "type": "price_details",
            "unit_amount_decimal": price["unit_amount_decimal"],
        },
        "proration": proration is not None,
        "quantity": quantity,
        "tax_rates": [],
        "test_clock": sub["test_clock"],
    }
    return store.add(item)


def _set_period(sub: dict[str, Any], period: tuple[int, int]) -> None:
    sub["_billing"]["period"] = period
    for item in sub["items"]["data"]:
        item["current_period_start"], item["current_period_end"] = period


def advance(store: Store, sub: dict[str, Any], until: int, base_url: str) -> None:
    """Play the subscription forward to ``until``: period ends, phase ends, the schedule's end."""
    while sub["status"] != "canceled":
        state = sub["_billing"]
        schedule = store.get("subscription_schedule", sub["schedule"]) if sub["schedule"] else None
        period_start, period_end = state["period"]
        phase_end = schedule["phases"][state["phase"]]["end_date"] if schedule else None
        at = min(period_end, phase_end) if phase_end is not None else period_end
        cancel_at = sub.get("cancel_at")
        if cancel_at is not None and cancel_at <= min(at, until):
            end(store, sub, cancel_at, base_url, bill_usage=True)  # what cancel_at asked for
            return
        if at > until:
            return
        if schedule is not None and at == phase_end:
            _end_phase(store, sub, schedule, at, base_url)
            continue
        state["periods"] += 1
        new_period = (
            at,
            boundary(state["anchor"], state["interval"], state["interval_count"], state["periods"]),
        )
        _set_period(sub, new_period)
        _bill(
            store,
            sub,
            at,
            "subscription_cycle",
            (period_start, at),
            new_period,
            None,
            base_url,
        )


def _end_phase(
    store: Store, sub: dict[str, Any], schedule: dict[str, Any], at: int, base_url: str
) -> None:
    index = sub["_billing"]["phase"]
    if index + 1 < len(schedule["phases"]):
        enter_phase(store, sub, schedule, index + 1, at, base_url)
        return
    if schedule["end_behavior"] == "cancel":
        end(store, sub, at, base_url, bill_usage=True)
        schedule.update(status="completed", completed_at=at, current_phase=None)
        return
    schedule.update(
        status="released",
        released_at=at,
        released_subscription=sub["id"],
        subscription=None,
        current_phase=None,
    )
    sub["schedule"] = None


def enter_phase(
    store: Store,
    sub: dict[str, Any],
    schedule: dict[str, Any],
    index: int,
    at: int,
    base_url: str,
    *,
    behavior: str | None = None,
) -> None:
    """Stripe's transition into phase ``index`` at ``at``: when its start date comes, or when
    a schedule update starts it now (then the update's ``behavior`` rules its prorations,
    not the phase's own).

    The anchor (``billing_cycle_anchor``, default ``automatic``) stays unless the phase asks
    for ``phase_start`` or its prices bill at another interval: then a new period starts at
    ``at`` and is invoiced at once. Otherwise a phase starting on a cycle date is billed by
    that cycle's invoice, and one starting inside a period bills nothing for its items until
    the next cycle date. A change inside a period prorates per the phase's
    ``proration_behavior``: ``none`` nothing, ``create_prorations`` pending proration items
    (on the next invoice), ``always_invoice`` those items invoiced at once. The phase's
    add_invoice_items go on the phase's first invoice."""
    state = sub["_billing"]
    period_start, period_end = state["period"]
    phase = schedule["phases"][index]
    interval, count = cadence(store, phase)
    other_interval = (interval, count) != (state["interval"], state["interval_count"])
    new_anchor = phase_setting(schedule, phase, "billing_cycle_anchor") == "phase_start"
    new_anchor = new_anchor or other_interval
    on_cycle = at == period_end
    behavior = behavior or phase["proration_behavior"]
    if new_anchor:
        state.update(anchor=at, periods=1, interval=interval, interval_count=count)
        sub["billing_cycle_anchor"] = at
        new_period = (at, boundary(at, interval, count, 1))
    elif on_cycle:
        state["periods"] += 1
        new_period = (at, boundary(state["anchor"], interval, count, state["periods"]))
    else:
        new_period = (period_start, period_end)
    old_items = sub["items"]["data"]
    state["phase"] = index
    hold_discounts(sub, subscription_discounts.held(store, phase, at, sub))
    sub["items"]["data"] = _items(store, sub, phase, at, new_period, old_items)
    sub["items"]["total_count"] = len(sub["items"]["data"])
    sub["collection_method"] = (
        phase_setting(schedule, phase, "collection_method") or "charge_automatically"
    )
    sub["days_until_due"] = days_until_due(schedule, phase)
    schedule["current_phase"] = {"start_date": phase["start_date"], "end_date": phase["end_date"]}
    if not on_cycle and behavior != "none":
        _prorate(store, sub, old_items, at, (period_start, period_end), credits_only=new_anchor)
    _set_period(sub, new_period)
    if new_anchor or on_cycle:
        reason = "subscription_update" if new_anchor else "subscription_cycle"
        _bill(store, sub, at, reason, (period_start, at), new_period, phase, base_url)
        return
    for entry in phase.get("add_invoice_items") or []:
        price = store.tables["price"][entry["price"]]
        _invoice_item(store, sub, price, entry.get("quantity") or 1, at, entry=entry)
    if behavior == "always_invoice":
        _bill(store, sub, at, "subscription_update", None, None, None, base_url)


def _prorate(
    store: Store,
    sub: dict[str, Any],
    old_items: list[dict[str, Any]],
    at: int,
    period: tuple[int, int],
    *,
    credits_only: bool = False,
) -> None:
    """Pending proration items for the change from ``old_items`` to the subscription's items."""
    changes = prorations(
        store, old_items, sub["items"]["data"], at, period, credits_only=credits_only
    )
    for change in changes:
        _invoice_item(store, sub, change.price, change.quantity, at, change)


def change_items(
    store: Store,
    sub: dict[str, Any],
    phase: dict[str, Any],
    now: int,
    behavior: str,
    base_url: str,
) -> None:
    """A schedule update rewrote the running phase's items: the subscription takes them now
    (their discounts too), and a change of price or quantity is prorated per the update's
    ``proration_behavior`` (``always_invoice``: invoiced at once)."""
    current = [(i["price"], i["quantity"]) for i in sub["items"]["data"]]
    changed = current != [(i["price"], i["quantity"]) for i in phase["items"]]
    old_items = sub["items"]["data"]
    period = sub["_billing"]["period"]
    sub["items"]["data"] = _items(store, sub, phase, now, period, old_items)
    sub["items"]["total_count"] = len(sub["items"]["data"])
    if not changed:
        return
    if behavior != "none":
        _prorate(store, sub, old_items, now, period)
    if behavior == "always_invoice":
        _bill(store, sub, now, "subscription_update", None, None, None, base_url)


def end(store: Store, sub: dict[str, Any], at: int, base_url: str, *, bill_usage: bool) -> None:
    """Cancel now; metered usage of the unfinished period is invoiced when asked."""
    has_metered = any(
        store.tables["price"][i["price"]]["recurring"]["usage_type"] == "metered"
        for i in sub["items"]["data"]
    )
    if bill_usage and has_metered:
        _bill(
            store,
            sub,
            at,
            "subscription_cycle",
            (sub["_billing"]["period"][0], at),
            None,
            None,
            base_url,
        )
    sub.update(status="canceled", canceled_at=at, ended_at=at)
    sub["cancellation_details"]["reason"] = "cancellation_requested"


def retrieve(call: Call) -> dict[str, Any]:
    return call.store.require("subscription", call.arg("subscription_exposed_id"), status=404)


def cancel(call: Call) -> dict[str, Any]:
    store = call.store
    sub = store.require("subscription", call.arg("subscription_exposed_id"), status=404)
    if sub["status"] == "canceled":
        raise invalid(
            f"A canceled subscription can only update its cancellation_details and metadata "
            f"(subscription {sub['id']}).",
        )
    now = store.now(sub["customer"])
    end(store, sub, now, call.base_url, bill_usage=bool(call.params.get("invoice_now")))
    if sub["schedule"]:
        schedule = store.tables["subscription_schedule"][sub["schedule"]]
        schedule.update(status="canceled", canceled_at=now, current_phase=None)
    return sub


def update(call: Call) -> dict[str, Any]:
    """Only ``cancel_at`` (and ``proration_behavior``, ``metadata``): cancel at a future moment."""
    store = call.store
    sub = store.require("subscription", call.arg("subscription_exposed_id"), status=404)
    params = call.params
    if sub["status"] == "canceled":
        raise invalid(
            f"A canceled subscription can only update its cancellation_details and metadata "
            f"(subscription {sub['id']}).",
        )
    if "cancel_at" in params:
        cancel_at = params["cancel_at"]
        if cancel_at in ("", None):
            sub["cancel_at"] = None
        else:
            if int(cancel_at) <= store.now(sub["customer"]):
                raise invalid(
                    "Invalid timestamp: must be an integer Unix timestamp in the future.",
                    "cancel_at",
                )
            sub["cancel_at"] = int(cancel_at)
    if "metadata" in params:
        sub["metadata"] = merged(sub["metadata"], params["metadata"])
    return sub


def list_(call: Call) -> dict[str, Any]:
    params = call.params
    items = call.store.newest_first("subscription")
    status = params.get("status")
    if status is None:
        items = [s for s in items if s["status"] != "canceled"]
    elif status != "all":
        items = [s for s in items if s["status"] == status]
    for name in ("customer", "test_clock", "collection_method"):
        if name in params:
            items = [s for s in items if s[name] == params[name]]
    if "price" in params:
        items = [s for s in items if any(i["price"] == params["price"] for i in s["items"]["data"])]
    return paginate(items, params, "/v1/subscriptions", "subscription")


ROUTES: list[Route] = [
    route(
        "GET", "/v1/subscriptions/{subscription_exposed_id}", SubscriptionRetrieveParams, retrieve
    ),
    route(
        "POST",
        "/v1/subscriptions/{subscription_exposed_id}",
        SubscriptionUpdateParams,
        update,
        {"cancel_at", "proration_behavior", "metadata"},
    ),
    route(
        "DELETE",
        "/v1/subscriptions/{subscription_exposed_id}",
        SubscriptionCancelParams,
        cancel,
        {"invoice_now", "prorate"},
    ),
    route(
        "GET",
        "/v1/subscriptions",
        SubscriptionListParams,
        list_,
        {
            "limit",
            "starting_after",
            "ending_before",
            "customer",
            "status",
            "price",
            "test_clock",
            "collection_method",
        },
    ),
]
