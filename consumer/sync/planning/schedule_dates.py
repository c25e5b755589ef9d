"""Schedule start and end instants (rule O2): quote dates at midnight UTC, terms in months."""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

from cpqsync.mapping.coercion import CoercionError, epoch_seconds, to_decimal


def start_epoch(quote_start: Any) -> int | None:
    """Midnight UTC of the quote's start date; None when it is missing or unreadable."""
    if quote_start is None or quote_start == "":
        return None
    try:
        return epoch_seconds(quote_start)
    except CoercionError:
        return None


def add_months(epoch: int, months: int) -> int:
    """``epoch`` plus calendar months, clamped to the month's last day (Jan 31 + 1 = Feb 28)."""
    moment = dt.datetime.fromtimestamp(epoch, dt.UTC)
    month_index = moment.month - 1 + months
    year = moment.year + month_index // 12
    month = month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return int(moment.replace(year=year, month=month, day=day).timestamp())


def whole_months(value: Any) -> int | None:
    """A term in months, when it is a positive whole number."""
    if value is None or value == "":
        return None
    try:
        number = to_decimal(value)
    except CoercionError:
        return None
    if number <= 0 or number != number.to_integral_value():
        return None
    return int(number)
