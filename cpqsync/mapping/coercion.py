"""Turns a Salesforce value (or a YAML default) into the type its Stripe parameter takes (rule M4).

Salesforce hands us strings for picklists, ISO strings for dates, JSON numbers for currency and
doubles, and booleans for checkboxes; Stripe wants literals in snake case, epoch seconds, integer
counts and decimal strings. Converting by the *target* type (read from `stripe.params`) means a
mapping works whatever the Salesforce field type is, and a value that cannot fit is a clear
error rather than a Stripe 400 later.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
from typing import Any

from cpqsync.mapping.stripe_schema import (
    is_list,
    is_string_dict,
    is_typed_dict,
    literal_values,
    union_members,
)

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class CoercionError(ValueError):
    """The value cannot become the Stripe parameter's type.

    ``rule`` names a spec rule whose own message this is (O4's ``days_until_due``), else None.
    """

    rule: str | None = None


def to_decimal(value: Any) -> decimal.Decimal:
    """Exact decimal of a Salesforce number; floats go through their shortest repr, never binary."""
    if type(value) is float and math.isfinite(value):
        # Hydrated JSON numbers are floats: the common case, several times per order line.
        return decimal.Decimal(repr(value))
    if isinstance(value, bool):
        raise CoercionError(f"{value!r} is not a number")
    if isinstance(value, decimal.Decimal):
        result = value
    elif isinstance(value, int | float):
        result = (
            decimal.Decimal(repr(value)) if isinstance(value, float) else decimal.Decimal(value)
        )
    elif isinstance(value, str):
        try:
            result = decimal.Decimal(value.strip().replace(" ", ""))
        except decimal.InvalidOperation:
            raise CoercionError(f"{value!r} is not a number") from None
    else:
        raise CoercionError(f"{value!r} is not a number")
    if not result.is_finite():
        raise CoercionError(f"{value!r} is not a finite number")
    return result


def decimal_text(value: decimal.Decimal) -> str:
    """Canonical decimal string: no exponent, no trailing zeros (``"120000"``, ``"0.0001"``)."""
    if not value:
        return "0"
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def epoch_seconds(value: Any) -> int:
    """Epoch seconds of a Salesforce date (midnight UTC) or datetime."""
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return int(moment.timestamp())
    if isinstance(value, dt.date):
        return int(dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC).timestamp())
    if isinstance(value, str):
        text = value.strip()
        if _DATE.match(text):
            return epoch_seconds(dt.date.fromisoformat(text))
        try:
            # Salesforce writes "+0000"; fromisoformat in 3.11 reads both that and "Z".
            return epoch_seconds(dt.datetime.fromisoformat(text))
        except ValueError:
            pass
    raise CoercionError(f"{value!r} is not a date or datetime")


def coerce(value: Any, target: Any) -> Any:
    """``value`` converted to the Stripe parameter type ``target``."""
    members = union_members(target)
    options = [v for m in members for v in literal_values(m)]
    plain = [m for m in members if not literal_values(m)]
    matched = _match_literal(value, options)
    if matched is not None:
        return matched
    choices = [o for o in options if o != ""]
    # Stripe types enums as "Literal[...]|str" only to stay open to new values; a value
    # outside today's choices is far more likely a typo than a feature, so it is refused.
    if not plain or (choices and plain == [str]):
        raise CoercionError(f"{value!r} is not one of {choices!r}")
    errors: list[str] = []
    for member in plain:
        try:
            return _coerce_plain(value, member)
        except CoercionError as exc:
            errors.append(str(exc))
    raise CoercionError(errors[0])


def _match_literal(value: Any, options: list[Any]) -> Any:
    if not isinstance(value, str):
        return None
    if value in options:
        return value
    # Picklist labels ("Send Invoice", "Licensed") against Stripe's snake-case literals.
    normalised = re.sub(r"[\s\-]+", "_", value.strip()).lower()
    for option in options:
        if isinstance(option, str) and option and option.lower() == normalised:
            return option
    return None


def _coerce_plain(value: Any, target: Any) -> Any:
    if target is bool:
        return _to_bool(value)
    if target is int:
        return _to_int(value)
    if target is float:
        return float(to_decimal(value))
    if target is decimal.Decimal:
        return decimal_text(to_decimal(value))
    if target is str:
        return _to_str(value)
    if is_list(target):
        items = value.split(";") if isinstance(value, str) else value
        if not isinstance(items, list):
            raise CoercionError(f"{value!r} is not a list (use a multi-select picklist)")
        (item_type,) = target.__args__
        return [coerce(item, item_type) for item in items]
    if is_typed_dict(target) or is_string_dict(target):
        raise CoercionError(f"{value!r} cannot fill a whole object; map its fields one by one")
    raise CoercionError(f"{value!r} does not fit this Stripe parameter")


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise CoercionError(f"{value!r} is not true or false")


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise CoercionError(f"{value!r} is not a whole number")
    if isinstance(value, dt.date | dt.datetime):
        return epoch_seconds(value)
    if isinstance(value, str) and ("-" in value.strip()[1:] or "T" in value):
        return epoch_seconds(value)
    number = to_decimal(value)
    if number != number.to_integral_value():
        raise CoercionError(f"{value!r} is not a whole number")
    return int(number)


def _to_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | decimal.Decimal):
        return decimal_text(to_decimal(value)) if not isinstance(value, int) else str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    raise CoercionError(f"{value!r} is not text")
