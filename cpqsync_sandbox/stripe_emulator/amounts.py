"""What a price charges for a quantity: per-unit, volume and graduated tiers, transform_quantity."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any


def _quantity(price: dict[str, Any], quantity: Decimal) -> Decimal:
    transform = price.get("transform_quantity")
    if not transform:
        return quantity
    rounding = ROUND_CEILING if transform["round"] == "up" else ROUND_FLOOR
    return (quantity / Decimal(transform["divide_by"])).quantize(Decimal(1), rounding=rounding)


def _tier_amount(tier: dict[str, Any], units: Decimal) -> Decimal:
    unit = Decimal(tier["unit_amount_decimal"] or 0)
    flat = Decimal(tier["flat_amount_decimal"] or 0)
    return unit * units + (flat if units > 0 else 0)


def charge(price: dict[str, Any], quantity: Decimal) -> int:
    """Minor units charged, rounded half-up as Stripe rounds line amounts."""
    units = _quantity(price, quantity)
    if price["billing_scheme"] != "tiered":
        total = Decimal(price["unit_amount_decimal"]) * units
    elif price["tiers_mode"] == "volume":
        tier = next(t for t in price["tiers"] if t["up_to"] is None or units <= t["up_to"])
        total = _tier_amount(tier, units)
    else:
        total, lower = Decimal(0), Decimal(0)
        for tier in price["tiers"]:
            upper = Decimal(tier["up_to"]) if tier["up_to"] is not None else units
            in_tier = max(Decimal(0), min(units, upper) - lower)
            if in_tier > 0:
                total += _tier_amount(tier, in_tier)
            lower = upper
            if units <= upper:
                break
    return int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def discount(subtotal: int, coupon: dict[str, Any]) -> int:
    if coupon.get("percent_off") is not None:
        off = Decimal(subtotal) * Decimal(str(coupon["percent_off"])) / 100
        return min(subtotal, int(off.quantize(Decimal(1), rounding=ROUND_HALF_UP)))
    return min(subtotal, int(coupon.get("amount_off") or 0))
