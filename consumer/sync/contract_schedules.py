"""What Stripe holds of a contract's schedule, as the contract planner takes it (rules A1, A2).

The planner needs each phase's boundaries, the order that started it (its
``salesforce_order_id`` metadata) and, for phases that have ended, the phase in request shape
so that it can be sent back unchanged (Stripe refuses changes to the past), and the
discounts each phase's coupons made (A5), so that a phase that has started keeps them: an
entry ``{coupon}`` makes a new discount each time it is sent for a running phase (Stripe:
"the coupon to create a new discount for"), ``{discount}`` reuses one. A phase entry shows its
discount in ``discount`` (expanded by the lookups: an entry sent as ``{discount}`` shows no
``coupon``, the discount's ``source`` names it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from consumer.sync.planning import KnownPhase, KnownSchedule
from consumer.sync.planning.identity import metadata_key

# What a lookup expands on the schedule it reads: the discount each phase (and phase item)
# entry holds, whose ``source`` names its coupon (A5).
HELD_SCHEDULE_EXPAND = ("phases.discounts.discount", "phases.items.discounts.discount")


def known_schedule(schedule: Mapping[str, Any], *, sandbox: bool) -> KnownSchedule:
    """``schedule`` is the SubscriptionSchedule object Stripe returned, as plain data."""
    order_key = metadata_key("salesforce_order_id", sandbox=sandbox)
    line_key = metadata_key("salesforce_order_item_id", sandbox=sandbox)
    phases = []
    for phase in schedule.get("phases") or ():
        metadata = phase.get("metadata") or {}
        phases.append(
            KnownPhase(
                start_date=int(phase["start_date"]),
                end_date=int(phase["end_date"]),
                order_id=str(metadata[order_key]) if metadata.get(order_key) else None,
                params=phase_params(phase),
                discounts=_held_discounts(phase, line_key),
            )
        )
    subscription = schedule.get("subscription") or schedule.get("released_subscription")
    if isinstance(subscription, Mapping):
        subscription = subscription.get("id")
    return KnownSchedule(
        str(schedule["id"]),
        str(schedule["status"]),
        tuple(phases),
        str(subscription) if subscription else None,
    )


def phase_params(phase: Mapping[str, Any]) -> dict[str, Any]:
    """A phase Stripe returned, in the shape an update sends it back."""
    params: dict[str, Any] = {
        "start_date": int(phase["start_date"]),
        "end_date": int(phase["end_date"]),
        "items": [_item(item) for item in phase.get("items") or ()],
    }
    invoice_items = [_item(item) for item in phase.get("add_invoice_items") or ()]
    if invoice_items:
        params["add_invoice_items"] = invoice_items
    discounts = _discounts(phase)
    if discounts:
        params["discounts"] = discounts  # A5: an ended phase keeps its coupons
    for name in ("proration_behavior", "collection_method", "billing_cycle_anchor"):
        if phase.get(name):
            params[name] = phase[name]
    days = (phase.get("invoice_settings") or {}).get("days_until_due")
    if days is not None:
        params["invoice_settings"] = {"days_until_due": days}
    if phase.get("metadata"):
        params["metadata"] = dict(phase["metadata"])
    return params


def _item(item: Mapping[str, Any]) -> dict[str, Any]:
    price = item.get("price")
    out: dict[str, Any] = {"price": price["id"] if isinstance(price, Mapping) else price}
    if item.get("quantity") is not None:
        out["quantity"] = item["quantity"]
    if item.get("metadata"):
        out["metadata"] = dict(item["metadata"])
    discounts = _discounts(item)
    if discounts:
        out["discounts"] = discounts
    return out


def _discounts(held: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A phase's or item's discounts as a request names them: ``{"coupon": id}`` for an entry
    sent so, ``{"discount": id}`` for one that reused a discount (an ended phase sent back
    unchanged makes no discount either way)."""
    out: list[dict[str, Any]] = []
    for entry in held.get("discounts") or ():
        if not isinstance(entry, Mapping):
            continue
        coupon, discount = _id_of(entry.get("coupon")), _id_of(entry.get("discount"))
        if coupon:
            out.append({"coupon": coupon})
        elif discount:
            out.append({"discount": discount})
    return out


def _held_discounts(
    phase: Mapping[str, Any], line_key: str
) -> tuple[tuple[str | None, str, str], ...]:
    """(item's line id or None, coupon id, discount id) of each discount the phase holds."""
    scopes: list[tuple[str | None, Mapping[str, Any]]] = [(None, phase)]
    for item in phase.get("items") or ():
        line = (item.get("metadata") or {}).get(line_key)
        if line:
            scopes.append((str(line), item))
    out = []
    for line, held in scopes:
        for entry in held.get("discounts") or ():
            discount = entry.get("discount") if isinstance(entry, Mapping) else None
            coupon = _id_of(entry.get("coupon")) if isinstance(entry, Mapping) else None
            if isinstance(discount, Mapping):
                coupon = coupon or _id_of((discount.get("source") or {}).get("coupon"))
            discount_id = _id_of(discount)
            if coupon and discount_id:
                out.append((line, coupon, discount_id))
    return tuple(out)


def _id_of(value: Any) -> str | None:
    """An id from a field that holds it, expanded or not."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return str(value) if value else None
