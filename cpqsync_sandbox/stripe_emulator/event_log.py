"""The account's Events: one for every change of an object, as Stripe records them.

``data.object`` is the object as it was right after the change (bookkeeping under
``_`` keys left out); an ``*.updated`` event carries ``data.previous_attributes``,
the changed fields' values before the change (nested objects only with the keys
that changed, as Stripe sends them). Events are kept in creation order and served
newest first; listeners (webhook delivery) hear each one as it is recorded.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

from stripe._api_version import _ApiVersion

# Stripe's event type prefix for each stored kind; kinds without one record no events.
EVENT_PREFIX = {
    "customer": "customer",
    "product": "product",
    "price": "price",
    "coupon": "coupon",
    "subscription_schedule": "subscription_schedule",
    "subscription": "customer.subscription",
    "invoice": "invoice",
    "invoiceitem": "invoiceitem",
    "payment_method": "payment_method",
    "test_helpers.test_clock": "test_helpers.test_clock",
}

# Kinds whose creation Stripe announces under another name (a payment method is "attached").
SILENT_CREATE = frozenset({"payment_method"})

# A change of ``status`` that Stripe announces with events of their own (not ``*.updated``).
STATUS_ACTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "invoice": {
        "open": ("finalized",),
        "paid": ("paid", "payment_succeeded"),
        "void": ("voided",),
        "uncollectible": ("marked_uncollectible",),
    },
    "subscription": {"canceled": ("deleted",)},
    "subscription_schedule": {
        "completed": ("completed",),
        "released": ("released",),
        "canceled": ("canceled",),
    },
}

Listener = Callable[[dict[str, Any]], None]


def snapshot(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``obj`` as a response shows it: no ``_`` bookkeeping keys."""

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if not k.startswith("_")}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    result: dict[str, Any] = strip(obj)
    return result


def previous_attributes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``before`` that differ in ``after``; nested dicts only where they differ."""
    changed: dict[str, Any] = {}
    for key in before.keys() | after.keys():
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict) and old.get("object") != "list":
            changed[key] = previous_attributes(old, new)
        else:
            changed[key] = copy.deepcopy(old)
    return changed


class EventLog:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.by_id: dict[str, dict[str, Any]] = {}
        self.listeners: list[Listener] = []

    def clear(self) -> None:
        self.events.clear()
        self.by_id.clear()

    def record(
        self,
        event_type: str,
        obj: dict[str, Any],
        *,
        before: dict[str, Any] | None = None,
        new_id: Callable[[str], str],
    ) -> dict[str, Any] | None:
        """Record ``event_type`` for ``obj`` (``before``: its snapshot ahead of the change).
        An update that changed nothing records nothing, as in Stripe."""
        data: dict[str, Any] = {"object": snapshot(obj)}
        # Only *.updated events carry previous_attributes.
        if before is not None and event_type.endswith(".updated"):
            previous = previous_attributes(before, data["object"])
            if not previous:
                return None
            data["previous_attributes"] = previous
        event: dict[str, Any] = {
            "id": new_id("evt"),
            "object": "event",
            "api_version": _ApiVersion.CURRENT,
            # Wall-clock time, also for objects on a test clock: catch-up filters on it.
            "created": int(time.time()),
            "data": data,
            "livemode": False,
            "pending_webhooks": 0,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }
        self.events.append(event)
        self.by_id[event["id"]] = event
        for listener in self.listeners:
            listener(event)
        return event

    def since(self, mark: int) -> list[dict[str, Any]]:
        """Events recorded after ``mark`` (a ``len(self.events)`` taken earlier)."""
        return self.events[mark:]

    def newest_first(self) -> list[dict[str, Any]]:
        return list(reversed(self.events))
