"""The discounts a subscription and its items hold from its schedule's phases, and which of
them an invoice gets.

Each entry of a phase's (or phase item's) ``discounts`` is either ``{coupon}`` or
``{discount}``. Stripe: ``coupon`` is "the coupon to create a new discount for", ``discount``
"an existing discount on the object (or one of its ancestors) to reuse". So an entry
``{coupon}`` makes a new discount (``di_…``) each time its phase is entered, and each time a
schedule update sends the running phase with it again: a ``once`` coupon then discounts the
next invoice again and a ``repeating`` one starts its months over. An entry ``{discount}``
keeps the discount the subscription (or item) holds, as it was. The discount an entry holds is
shown in the entry's ``discount`` field and in the subscription's (or item's) ``discounts``.

A discount applies for as long as its coupon's ``duration`` lasts: ``forever``, ``once`` (the
first invoice after it starts that it discounts) or ``repeating`` (``duration_in_months``
from its start, its ``end``). The subscription's discounts apply to the whole invoice; an
item's to that item's lines only, before the subscription's ("subscription item discounts
are applied before subscription discounts"). The next phase replaces them with its own.

Discounts are stored objects (``discount``, expandable where an entry names one); ``take``
hands an invoice the ``{"id", "coupon"}`` of those in force (``invoice_discounts.apply``
then computes them).
"""

from __future__ import annotations

from typing import Any

from cpqsync_sandbox.stripe_emulator.errors import resource_missing
from cpqsync_sandbox.stripe_emulator.intervals import add_interval
from cpqsync_sandbox.stripe_emulator.store import Store, base_object, new_id


def coupon_of(discount: dict[str, Any]) -> str:
    return str(discount["source"]["coupon"])


def _new(
    store: Store, coupon_id: str, at: int, subscription: dict[str, Any], item: str | None
) -> dict[str, Any]:
    coupon = store.tables["coupon"][coupon_id]
    end = (
        add_interval(at, "month", coupon["duration_in_months"])
        if coupon["duration"] == "repeating"
        else None
    )
    discount = base_object("discount", new_id("di"), at)
    del discount["created"], discount["livemode"]  # Stripe's Discount has neither
    discount.update(
        {
            "checkout_session": None,
            "customer": subscription["customer"],
            "end": end,
            "invoice": None,
            "invoice_item": None,
            "promotion_code": None,
            "source": {"coupon": coupon_id, "type": "coupon"},
            "start": at,
            "subscription": subscription["id"],
            "subscription_item": item,
            "_used": False,
        }
    )
    return store.add(discount)


def held(
    store: Store,
    configured: dict[str, Any],
    at: int,
    subscription: dict[str, Any],
    item: str | None = None,
) -> list[dict[str, Any]]:
    """The discounts a phase (or a phase item, ``configured``, as the schedule stores it)
    holds from ``at``, when it is entered or rewritten: a new one per ``{coupon}`` entry, the
    named one per ``{discount}`` entry. Each entry shows the discount it holds."""
    result = []
    for entry in configured.get("discounts") or []:
        reused = store.get("discount", entry["discount"]) if entry.get("discount") else None
        if reused is None:
            reused = _new(store, entry["coupon"], at, subscription, item)
            entry["discount"] = reused["id"]
        result.append(reused)
    return result


def reusable(
    store: Store, discount_id: str, subscription: str | None, *, item_level: bool, param: str
) -> dict[str, Any]:
    """The discount an entry ``{discount}`` names, if the subscription holds it (an item may
    also reuse its subscription's); Stripe's ``No such discount`` otherwise (unknown, of
    another subscription, or a schedule whose subscription has not started)."""
    discount = store.get("discount", discount_id)
    if (
        discount is None
        or subscription is None
        or discount["subscription"] != subscription
        or (discount["subscription_item"] is not None and not item_level)
    ):
        raise resource_missing("discount", discount_id, param)
    return discount


def take(store: Store, held: list[dict[str, Any]], at: int) -> list[dict[str, str]]:
    """The discounts in force at ``at``, for one invoice or line (a ``once`` discount is spent
    by it)."""
    result = []
    for discount in held:
        coupon = store.get("coupon", coupon_of(discount))
        if coupon is None:
            continue
        duration = coupon["duration"]
        if duration == "once" and discount["_used"]:
            continue
        if duration == "repeating" and at >= discount["end"]:
            continue
        discount["_used"] = True
        result.append({"id": discount["id"], "coupon": coupon_of(discount)})
    return result
