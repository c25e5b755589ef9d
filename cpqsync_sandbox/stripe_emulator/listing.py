"""Stripe list envelopes with cursor pagination (limit, starting_after, ending_before)."""

from __future__ import annotations

from typing import Any

from cpqsync_sandbox.stripe_emulator.errors import invalid, resource_missing


def list_object(data: list[dict[str, Any]], url: str, has_more: bool = False) -> dict[str, Any]:
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def paginate(
    newest_first: list[dict[str, Any]], params: dict[str, Any], url: str, label: str
) -> dict[str, Any]:
    """One page, newest first, as Stripe orders every list."""
    limit = int(params.get("limit", 10))
    if not 1 <= limit <= 100:
        raise invalid("Invalid limit: must be between 1 and 100", "limit")
    items = newest_first
    ids = [item["id"] for item in items]
    if "starting_after" in params:
        cursor = params["starting_after"]
        if cursor not in ids:
            raise resource_missing(label, cursor, "starting_after")
        items = items[ids.index(cursor) + 1 :]
    elif "ending_before" in params:
        cursor = params["ending_before"]
        if cursor not in ids:
            raise resource_missing(label, cursor, "ending_before")
        before = items[: ids.index(cursor)]
        page = before[-limit:]
        return list_object(page, url, has_more=len(before) > limit)
    return list_object(items[:limit], url, has_more=len(items) > limit)


def created_filter(items: list[dict[str, Any]], created: Any) -> list[dict[str, Any]]:
    """``created`` as an exact timestamp or a ``{gt, gte, lt, lte}`` range."""
    if created is None:
        return items
    if isinstance(created, int):
        return [item for item in items if item["created"] == created]
    checks = {
        "gt": lambda a, b: a > b,
        "gte": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "lte": lambda a, b: a <= b,
    }
    for op, bound in created.items():
        items = [item for item in items if checks[op](item["created"], bound)]
    return items
