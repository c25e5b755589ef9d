"""The discounts a subscription holds from its schedule's phases, and which of them an invoice
gets.

A phase's ``discounts[][coupon]`` makes a new discount when the phase starts (Stripe: "the
coupon to create a new discount for"); the discount then applies to the subscription's
invoices for as long as its coupon's ``duration`` lasts: ``forever``, ``once`` (the first
invoice after it starts) or ``repeating`` (``duration_in_months`` from its start). The next
phase replaces them with its own. Rewriting the running phase with the same coupon keeps the
discount it made, so a schedule sent again does not start its coupons over.
"""

from __future__ import annotations

from typing import Any

from cpqsync_sandbox.stripe_emulator.intervals import add_interval
from cpqsync_sandbox.stripe_emulator.store import Store


def _coupons(phase: dict[str, Any]) -> list[str]:
    return [d["coupon"] for d in phase.get("discounts") or [] if d.get("coupon")]


def entered(phase: dict[str, Any], at: int) -> list[dict[str, Any]]:
    """The discounts a phase makes when it starts at ``at``."""
    return [{"coupon": coupon, "start": at, "used": False} for coupon in _coupons(phase)]


def rewritten(held: list[dict[str, Any]], phase: dict[str, Any], now: int) -> list[dict[str, Any]]:
    """The running phase's discounts after an update: those it still names stay as they are,
    new coupons start now."""
    by_coupon = {d["coupon"]: d for d in held}
    return [
        by_coupon.get(coupon) or {"coupon": coupon, "start": now, "used": False}
        for coupon in _coupons(phase)
    ]


def take(store: Store, held: list[dict[str, Any]], at: int) -> list[str]:
    """The coupons of the discounts in force at ``at``, for one invoice (a ``once`` discount
    is spent by it)."""
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
        result.append(discount["coupon"])
    return result
