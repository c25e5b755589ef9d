"""Discounts on invoices and invoice items (``discounts[][coupon]``), and what they take.

Stripe: each coupon applied makes a discount (``di_…``), listed in the ``discounts`` of the
invoice or invoice item it was applied to. An invoice item's discounts apply to its line first,
then the invoice's discounts to what the discountable lines have left ("line item discounts are
applied before invoice discounts"); each line shows what every discount took from it in
``discount_amounts``, the invoice the sums in ``total_discount_amounts``. A coupon's
``duration`` says how long it discounts a subscription: an invoice is discounted once by it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cpqsync_sandbox.stripe_emulator import amounts
from cpqsync_sandbox.stripe_emulator.errors import exclusive, invalid, not_implemented
from cpqsync_sandbox.stripe_emulator.store import Store, new_id

# Stripe: up to 20 discounts on a subscription, a subscription item or an invoice (and on
# each phase, phase item and invoice item that makes them).
MAX_DISCOUNTS = 20


def checked(store: Store, given: Any, param: str, *, currency: str | None) -> list[str]:
    """The coupons ``given`` (a request's ``discounts``) name, as Stripe accepts them: each
    exists and is still valid, an amount-off coupon is in the currency of what it discounts
    (when known), and there are at most ``MAX_DISCOUNTS``."""
    return [str(e["coupon"]) for e in entries(store, given, param, currency=currency)]


# An entry ``{discount}`` as the caller accepts it: its id and the entry's param -> the
# discount reused (or Stripe's error). None: the endpoint takes coupons only.
Reuse = Callable[[str, str], dict[str, Any]]


def entries(
    store: Store, given: Any, param: str, *, currency: str | None, reuse: Reuse | None = None
) -> list[dict[str, Any]]:
    """``given`` (a request's ``discounts``) as Stripe shows the entries, once it would take
    them: ``{coupon}`` entries as ``checked`` says, ``{discount}`` ones where ``reuse`` accepts
    the discount."""
    given = given or []
    if len(given) > MAX_DISCOUNTS:
        raise invalid(
            f"You can apply at most {MAX_DISCOUNTS} discounts; {len(given)} were given.", param
        )
    result = []
    for k, discount in enumerate(given):
        if "coupon" in discount and "discount" in discount:
            raise exclusive(f"{param}[{k}][coupon]", f"{param}[{k}][discount]")
        if "discount" in discount and reuse is not None:
            reuse(discount["discount"], f"{param}[{k}][discount]")
            result.append(
                {"coupon": None, "discount": discount["discount"], "promotion_code": None}
            )
            continue
        if "coupon" not in discount:
            raise not_implemented(f"{param}[{k}] without a coupon")
        where = f"{param}[{k}][coupon]"
        coupon = store.require("coupon", discount["coupon"], where)
        if not coupon["valid"]:
            raise invalid(f"Coupon {coupon['id']} is no longer valid.", where)
        if currency and coupon["amount_off"] is not None and coupon["currency"] != currency:
            raise invalid(
                f"The currency of coupon {coupon['id']} ({coupon['currency']}) does not match "
                f"the currency of the amount it would discount ({currency}).",
                where,
            )
        result.append({"coupon": str(coupon["id"]), "discount": None, "promotion_code": None})
    return result


def applied(store: Store, given: Any, param: str, *, currency: str | None) -> list[dict[str, str]]:
    """The discounts ``given`` (a request's ``discounts``) make: ``{"id", "coupon"}`` each."""
    return [
        {"id": new_id("di"), "coupon": coupon}
        for coupon in checked(store, given, param, currency=currency)
    ]


def apply(store: Store, invoice: dict[str, Any]) -> int:
    """Fill the lines' and the invoice's discount amounts; the total they take."""
    totals: dict[str, int] = {}

    def took(line: dict[str, Any], discount_id: str, off: int) -> None:
        line["discount_amounts"].append({"amount": off, "discount": discount_id})
        totals[discount_id] = totals.get(discount_id, 0) + off

    left: dict[str, int] = {}  # line id -> what its own discounts left, discountable lines only
    for line in invoice["lines"]["data"]:
        line["discount_amounts"] = []
        if not line["discountable"]:
            continue
        remaining = line["amount"]
        for discount in line.get("_discounts") or []:
            coupon = store.get("coupon", discount["coupon"])
            if coupon is None or remaining <= 0:
                continue
            off = amounts.discount(remaining, coupon)
            remaining -= off
            took(line, discount["id"], off)
        left[line["id"]] = remaining
    by_id = {line["id"]: line for line in invoice["lines"]["data"]}
    for discount in invoice.get("_discounts") or []:
        coupon = store.get("coupon", discount["coupon"])
        base = sum(left.values())
        if coupon is None or base <= 0:
            continue
        off = amounts.discount(base, coupon)
        # Spread over the lines by what each has left; the last takes the rounding.
        shares = [line_id for line_id, amount in left.items() if amount > 0]
        spread = 0
        for n, line_id in enumerate(shares):
            share = off - spread if n == len(shares) - 1 else off * left[line_id] // base
            share = min(share, left[line_id])
            spread += share
            left[line_id] -= share
            took(by_id[line_id], discount["id"], share)
    invoice["total_discount_amounts"] = [
        {"amount": amount, "discount": discount_id} for discount_id, amount in totals.items()
    ]
    return sum(totals.values())
