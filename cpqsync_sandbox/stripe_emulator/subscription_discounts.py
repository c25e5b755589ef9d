"""The discounts a subscription and its items hold from its schedule's phases, and which of
them an invoice gets.

A phase's ``discounts[][coupon]`` makes a new discount when the phase starts (Stripe: "the
coupon to create a new discount for"), and so does each phase item's ``discounts[][coupon]``
for the subscription item it becomes. A discount then applies for as long as its coupon's
``duration`` lasts: ``forever``, ``once`` (the first invoice after it starts that it
discounts) or ``repeating`` (``duration_in_months`` from its start). The subscription's
discounts apply to the whole invoice; an item's to that item's lines only, before the
subscription's ("subscription item discounts are applied before subscription discounts").
The next phase replaces them with its own. Rewriting the running phase with the same coupon
keeps the discount it made, so a schedule sent again does not start its coupons over.

Each held discount is ``{"id", "coupon", "start", "used"}``; ``take`` hands an invoice the
``{"id", "coupon"}`` of those in force (``invoice_discounts.apply`` then computes them).
"""

from __future__ import annotations

from typing import Any

from cpqsync_sandbox.stripe_emulator.intervals import add_interval
from cpqsync_sandbox.stripe_emulator.store import Store, new_id


def _coupons(configured: dict[str, Any]) -> list[str]:
    return [d["coupon"] for d in configured.get("discounts") or [] if d.get("coupon")]


def _new(coupon: str, at: int) -> dict[str, Any]:
    return {"id": new_id("di"), "coupon": coupon, "start": at, "used": False}


def entered(configured: dict[str, Any], at: int) -> list[dict[str, Any]]:
    """The discounts a phase (or a phase item, ``configured``) makes when it starts at ``at``."""
    return [_new(coupon, at) for coupon in _coupons(configured)]


def rewritten(
    held: list[dict[str, Any]], configured: dict[str, Any], now: int
) -> list[dict[str, Any]]:
    """The running phase's (or phase item's) discounts after an update: those it still names
    stay as they are, new coupons start now."""
    by_coupon = {d["coupon"]: d for d in held}
    return [by_coupon.get(coupon) or _new(coupon, now) for coupon in _coupons(configured)]


def take(store: Store, held: list[dict[str, Any]], at: int) -> list[dict[str, str]]:
    """The discounts in force at ``at``, for one invoice or line (a ``once`` discount is spent
    by it)."""
    result = []
    for discount in held:
        coupon = store.get("coupon", discount["coupon"])
        if coupon is None:
            continue
        duration = coupon["duration"]
        if duration == "once" and discount["used"]:
            continue
        if duration == "repeating" and at >= add_interval(
            discount["start"], "month", coupon["duration_in_months"]
        ):
            continue
        discount["used"] = True
        result.append({"id": discount["id"], "coupon": discount["coupon"]})
    return result
