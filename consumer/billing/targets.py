"""What a Stripe event concerns: the Stripe objects to read again, by the event's object type.

The writeback never writes an event's own snapshot: Stripe does not deliver events in order
(and catch-up or a replay delivers old ones late), so it reads the objects' current state
from Stripe and writes that. An event therefore only says *what* to refresh; a stale or
repeated event refreshes to the same, newest state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final


@dataclass(frozen=True, slots=True)
class Refresh:
    """The objects to read again for one event (ids; None where the event names none)."""

    subscription_id: str | None = None
    # The event's invoice: read for a one-time order (no subscription) or an invoice record.
    invoice_id: str | None = None
    customer_id: str | None = None


def _id(value: Any) -> str | None:
    """An id field, expanded or not."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def invoice_subscription(invoice: dict[str, Any]) -> str | None:
    """The subscription an invoice bills (``parent.subscription_details``; older API
    versions had a top-level ``subscription``)."""
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    return _id(details.get("subscription")) or _id(invoice.get("subscription"))


def _subscription(obj: dict[str, Any]) -> Refresh:
    return Refresh(subscription_id=_id(obj.get("id")), customer_id=_id(obj.get("customer")))


def _schedule(obj: dict[str, Any]) -> Refresh:
    sub = _id(obj.get("subscription")) or _id(obj.get("released_subscription"))
    return Refresh(subscription_id=sub, customer_id=_id(obj.get("customer")))


def _invoice(obj: dict[str, Any]) -> Refresh:
    return Refresh(
        subscription_id=invoice_subscription(obj),
        invoice_id=_id(obj.get("id")),
        customer_id=_id(obj.get("customer")),
    )


def _charge(obj: dict[str, Any]) -> Refresh:
    # A refund changes the charge, not the invoice's status: refresh what the invoice shows.
    return Refresh(invoice_id=_id(obj.get("invoice")), customer_id=_id(obj.get("customer")))


def _customer(obj: dict[str, Any]) -> Refresh:
    return Refresh(customer_id=_id(obj.get("id")))


# data.object.object -> what to refresh; events of other objects change no billing state.
REFRESH_BY_OBJECT: Final[dict[str, Callable[[dict[str, Any]], Refresh]]] = {
    "subscription": _subscription,
    "subscription_schedule": _schedule,
    "invoice": _invoice,
    "charge": _charge,
    "customer": _customer,
}


def refresh_for(event: dict[str, Any]) -> Refresh | None:
    """What ``event`` asks to refresh, or None when it changes no billing state."""
    obj = (event.get("data") or {}).get("object") or {}
    rule = REFRESH_BY_OBJECT.get(str(obj.get("object")))
    if rule is None or event.get("type") == "customer.deleted":
        return None
    return rule(obj)
