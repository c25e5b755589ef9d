"""One currency per customer, as Stripe enforces it (spec rule S5).

A customer's ``currency`` is unset until its first subscription schedule, subscription or
invoice item; from then on Stripe refuses anything of that customer in another currency, with
two wordings: a schedule whose prices differ (``The currency of the selected prices (usd) does
not match the customer currency (gbp).``) and an invoice item in another currency (``You cannot
combine currencies on a single customer. …``). Both are 400 ``invalid_request_error``s.

Schedules are checked before their handler runs (`guarded`), so a refused request leaves
nothing behind, and bind the customer's currency once they exist.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cpqsync_sandbox.stripe_emulator.errors import invalid
from cpqsync_sandbox.stripe_emulator.routing import Call, Handler, Route
from cpqsync_sandbox.stripe_emulator.store import Store


def require_item_currency(customer: dict[str, Any], currency: str, param: str) -> None:
    """An invoice item in ``currency``: refused when the customer bills in another one."""
    current = customer.get("currency")
    if current and current != currency:
        raise invalid(
            "You cannot combine currencies on a single customer. This customer has an active "
            "subscription, subscription schedule, discount, quote, or invoice item with "
            f"currency {current}.",
            param,
        )


def bind(customer: dict[str, Any], currency: str | None) -> None:
    """The customer's billing currency, set by its first currency-bearing object."""
    if currency and not customer.get("currency"):
        customer["currency"] = currency


def _prices_currency(store: Store, phases: Any) -> str | None:
    """The currency of the first price a schedule's phases name (a phase has one, S5)."""
    for phase in phases if isinstance(phases, list) else []:
        for entry in [*(phase.get("items") or []), *(phase.get("add_invoice_items") or [])]:
            price = store.tables["price"].get(str(entry.get("price")))
            if price is not None:
                return str(price["currency"])
            data = entry.get("price_data")
            if isinstance(data, dict) and data.get("currency"):
                return str(data["currency"]).lower()
    return None


def _check_schedule(handler: Handler) -> Handler:
    def checked(call: Call) -> dict[str, Any]:
        store = call.store
        if "schedule" in call.path_args:
            existing = store.get("subscription_schedule", call.arg("schedule"))
            customer_id = existing["customer"] if existing else None
        else:
            customer_id = call.params.get("customer")
        customer = store.get("customer", str(customer_id)) if customer_id else None
        wanted = _prices_currency(store, call.params.get("phases"))
        current = customer.get("currency") if customer is not None else None
        if current and wanted and current != wanted:
            raise invalid(
                f"The currency of the selected prices ({wanted}) does not match the "
                f"customer currency ({current}).",
                "phases",
            )
        schedule = handler(call)
        if customer is not None:
            bind(customer, wanted)
        return schedule

    return checked


def guarded(routes: list[Route]) -> list[Route]:
    """Schedule routes whose create and update first apply the customer's currency rule."""
    out = []
    for entry in routes:
        if entry.method == "POST" and entry.pattern in (
            "/v1/subscription_schedules",
            "/v1/subscription_schedules/{schedule}",
        ):
            entry = replace(entry, handler=_check_schedule(entry.handler))
        out.append(entry)
    return out
