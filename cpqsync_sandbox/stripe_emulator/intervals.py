"""Calendar arithmetic for billing periods: months clamp to the month's end, anchored, no drift."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta

_SECONDS = {"day": 86_400, "week": 7 * 86_400}


def add_interval(timestamp: int, interval: str, count: int) -> int:
    """``timestamp`` moved ``count`` intervals ahead; Jan 31 + 1 month is Feb 28/29."""
    if interval in _SECONDS:
        return timestamp + _SECONDS[interval] * count
    months = count * (12 if interval == "year" else 1)
    start = datetime.fromtimestamp(timestamp, UTC)
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    moved = start.replace(year=year, month=month, day=day)
    return int(moved.timestamp())


def boundary(anchor: int, interval: str, count: int, periods: int) -> int:
    """The end of period number ``periods`` counted from ``anchor`` (computed from the anchor,
    so a 31st anchor comes back to the 31st after a short month)."""
    return add_interval(anchor, interval, count * periods)


def seconds(days: int) -> int:
    return int(timedelta(days=days).total_seconds())
