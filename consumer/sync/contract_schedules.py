"""What Stripe holds of a contract's schedule, as the contract planner takes it (rules A1, A2).

The planner needs each phase's boundaries, the order that started it (its
``salesforce_order_id`` metadata) and, for phases that have ended, the phase in request shape
so that it can be sent back unchanged (Stripe refuses changes to the past).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from consumer.sync.planning import KnownPhase, KnownSchedule
from consumer.sync.planning.identity import metadata_key


def known_schedule(schedule: Mapping[str, Any], *, sandbox: bool) -> KnownSchedule:
    """``schedule`` is the SubscriptionSchedule object Stripe returned, as plain data."""
    order_key = metadata_key("salesforce_order_id", sandbox=sandbox)
    phases = []
    for phase in schedule.get("phases") or ():
        metadata = phase.get("metadata") or {}
        phases.append(
            KnownPhase(
                start_date=int(phase["start_date"]),
                end_date=int(phase["end_date"]),
                order_id=str(metadata[order_key]) if metadata.get(order_key) else None,
                params=phase_params(phase),
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
    """A phase's or item's coupons as a request names them (``{"coupon": id}``)."""
    out = []
    for discount in held.get("discounts") or ():
        coupon = discount.get("coupon") if isinstance(discount, Mapping) else None
        if isinstance(coupon, Mapping):
            coupon = coupon.get("id")
        if coupon:
            out.append({"coupon": str(coupon)})
    return out
