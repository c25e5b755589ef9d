"""Store values to the Avro values a real org puts in change events.

Dates and datetimes travel as epoch milliseconds (a date as its UTC midnight), money and other
decimals as doubles.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any


class ValueConversionError(ValueError):
    """A store value that does not fit the field's Avro type."""


def _epoch_ms(value: date) -> int:
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return int(aware.timestamp() * 1000)
    return int(datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp() * 1000)


def to_avro(value: Any, avro_type: str, *, field_name: str) -> Any:
    """Convert ``value`` for a ``["null", avro_type]`` field; ``None`` stays null."""
    if value is None:
        return None
    if avro_type == "long" and isinstance(value, date):
        return _epoch_ms(value)
    if (
        avro_type == "double"
        and isinstance(value, int | float | Decimal)
        and not isinstance(value, bool)
    ):
        return float(value)
    if avro_type == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if avro_type == "boolean" and isinstance(value, bool):
        return value
    if avro_type == "string" and isinstance(value, str):
        return value
    raise ValueConversionError(
        f"field {field_name!r}: cannot put {type(value).__name__} value into Avro {avro_type}"
    )
