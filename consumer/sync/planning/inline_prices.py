"""Inline line prices (setting ``sync.inline_line_prices``): P6 without create-then-archive.

Rule P6 gives an order line whose price differs from its entry's a price of its own, created
before the schedule and archived once the schedule uses it: two requests per such line. Stripe
also takes the price inline, as ``price_data`` on a phase item or ``add_invoice_items`` entry:
it creates a price for that one use, inactive from the start (the end state P6 reaches), named
by the schedule's answer (``phases[].items[].price``), where the line's ``Stripe_ID__c`` comes
from. ``price_data`` says less than a price: currency, product, per-unit amount, and a licensed
interval and count. A line whose price needs more (tiers, metered usage, any mapped price
field beyond those) keeps P6; the inline price carries no metadata either way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

# What ``price_data`` on a schedule's items accepts (its ``recurring`` takes interval and count).
_INLINE_FIELDS = frozenset({"currency", "product", "unit_amount_decimal", "tax_behavior"})
# What names a price rather than making it; dropped inline (the trade-off the setting makes).
_DROPPED = frozenset({"metadata"})


class InlinePrice(NamedTuple):
    """A line's price sent as ``price_data`` where its phase entry would name a price."""

    data: dict[str, Any]


def inline_price_data(params: Mapping[str, Any]) -> dict[str, Any] | None:
    """``price_data`` for a line's own price (its final parameters), or None when Stripe's
    ``price_data`` cannot say that price (tiers, metered usage, other mapped fields)."""
    data: dict[str, Any] = {}
    for key, value in params.items():
        if key in _DROPPED:
            continue
        if key == "recurring":
            if not isinstance(value, Mapping) or value.get("usage_type", "licensed") != "licensed":
                return None
            if set(value) - {"interval", "interval_count", "usage_type"}:
                return None
            data["recurring"] = {
                "interval": value["interval"],
                "interval_count": int(value.get("interval_count") or 1),
            }
        elif key in _INLINE_FIELDS:
            data[key] = value
        else:
            return None  # tiers, billing_scheme, nickname, ...: P6 keeps them
    if "unit_amount_decimal" not in data or "product" not in data:
        return None
    return data


def phase_entry(price: str | Mapping[str, str] | InlinePrice) -> dict[str, Any]:
    """How a phase item or add_invoice_item names its price."""
    if isinstance(price, InlinePrice):
        return {"price_data": price.data}
    return {"price": price}


def line_price_path(kind: str, index: int, phase: int = 0) -> str:
    """Where the schedule's answer names the price Stripe made for an inline line: the
    ``WriteBack.attribute`` that gives the line's ``Stripe_ID__c`` (results.py follows it)."""
    return f"phases.{phase}.{kind}.{index}.price"


def at_path(answer: Mapping[str, Any], path: str) -> Any:
    """The value ``line_price_path`` names in an answer (None where it is absent)."""
    value: Any = answer
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    if isinstance(value, Mapping):  # an expanded price
        value = value.get("id")
    return value
