"""Salesforce decimal currency amounts to Stripe minor units, exactly (spec: Amounts).

Salesforce holds major units (`UnitPrice = 1200.00`), Stripe minor units as a decimal string
(`unit_amount_decimal = "120000"` in USD, unscaled in zero-decimal currencies such as JPY).
Decimal arithmetic end to end means a 0.000001 unit price survives intact; Stripe accepts at
most 12 decimal places, so results are rounded there, half up, as money is.
"""

from __future__ import annotations

import decimal
import functools
from typing import Any

from cpqsync.mapping.coercion import decimal_text, to_decimal

# Stripe's zero-decimal and three-decimal currencies (docs: "Supported currencies").
ZERO_DECIMAL_CURRENCIES = frozenset(
    {
        "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga",
        "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf",
    }
)  # fmt: skip
THREE_DECIMAL_CURRENCIES = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})

STRIPE_DECIMAL_PLACES = 12
_QUANTUM = decimal.Decimal(1).scaleb(-STRIPE_DECIMAL_PLACES)
# Wide enough that no product or quotient of realistic prices is rounded before the final step.
_CONTEXT = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_UP)


def minor_unit_exponent(currency: str) -> int:
    code = currency.lower()
    if code in ZERO_DECIMAL_CURRENCIES:
        return 0
    return 3 if code in THREE_DECIMAL_CURRENCIES else 2


# Every amount of every line asks this; an org bills in a handful of currencies.
_exponent = functools.lru_cache(maxsize=256)(minor_unit_exponent)


def parse_amount(value: Any) -> decimal.Decimal:
    """A Salesforce currency value as an exact Decimal (raises CoercionError otherwise)."""
    return to_decimal(value)


def minor_units(
    amount: decimal.Decimal, currency: str, *, divide_by: decimal.Decimal | int = 1
) -> str:
    """``amount / divide_by`` in minor units of ``currency``, as Stripe's decimal string."""
    scaled = amount.scaleb(_exponent(currency), _CONTEXT)
    if divide_by != 1:
        scaled = _CONTEXT.divide(scaled, divide_by)
    # Positional context: decimal's C methods parse keyword arguments slowly.
    return _quantized_text(scaled.quantize(_QUANTUM, None, _CONTEXT))


def _quantized_text(value: decimal.Decimal) -> str:
    """`decimal_text` of a value with exactly 12 places, as quantizing leaves it, without the
    generic formatter (two of these per order line): with a negative exponent, ``str`` writes
    plain digits unless the value is below 1e-6."""
    if not value:
        return "0"
    text = str(value) if value.adjusted() >= -6 else f"{value:f}"
    return text.rstrip("0").rstrip(".")


def canonical_amount(value: Any) -> str:
    """An amount rounded to Stripe's 12 places, so "120000" and "120000.00" compare equal (P6)."""
    return decimal_text(to_decimal(value).quantize(_QUANTUM, None, _CONTEXT))
