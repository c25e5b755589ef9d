"""What a change of a subscription's items inside a billing period prorates (Stripe's
``create_prorations``): for each licensed item that changes, a credit for its unused time and
a charge for the remaining time of what replaces it, both over the rest of the period, each
amount the item's whole-period charge scaled by the fraction of the period left (to the
second) and rounded half-up. An item whose price and quantity stay the same prorates nothing;
metered items never prorate (their usage is billed in arrears)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from cpqsync_sandbox.stripe_emulator import amounts
from cpqsync_sandbox.stripe_emulator.store import Store


@dataclass(frozen=True)
class Proration:
    """One proration invoice item to make: negative ``amount`` for a credit."""

    price: dict[str, Any]
    quantity: int
    amount: int
    description: str
    subscription_item: str
    period: tuple[int, int]  # from the change to the end of the period it prorates


def _licensed(store: Store, items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The items billed in advance, by price id."""
    return {
        item["price"]: item
        for item in items
        if store.tables["price"][item["price"]]["recurring"]["usage_type"] == "licensed"
    }


def _quantity(item: dict[str, Any]) -> int:
    return 1 if item["quantity"] is None else int(item["quantity"])


def _part(price: dict[str, Any], quantity: int, fraction: Decimal) -> int:
    whole = Decimal(amounts.charge(price, Decimal(quantity)))
    return int((whole * fraction).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def prorations(
    store: Store,
    old: list[dict[str, Any]],
    new: list[dict[str, Any]],
    at: int,
    period: tuple[int, int],
    *,
    credits_only: bool = False,
) -> list[Proration]:
    """The prorations of replacing subscription items ``old`` with ``new`` at ``at`` inside
    ``period``. ``credits_only`` when the new items start a billing period of their own (a
    new anchor bills them in full): only the old items' unused time is credited."""
    start, end = period
    if not start <= at < end:
        return []
    fraction = Decimal(end - at) / Decimal(end - start)
    when = datetime.fromtimestamp(at, UTC).strftime("%d %b %Y")
    before, after = _licensed(store, old), _licensed(store, new)

    def one(item: dict[str, Any], sign: int, label: str) -> Proration | None:
        quantity = _quantity(item)
        if not quantity:
            return None
        price = store.tables["price"][item["price"]]
        name = store.tables["product"][price["product"]]["name"]
        return Proration(
            price=price,
            quantity=quantity,
            amount=sign * _part(price, quantity, fraction),
            description=f"{label} time on {quantity} x {name} after {when}",
            subscription_item=item["id"],
            period=(at, end),
        )

    def changed(item: dict[str, Any], other: dict[str, Any] | None) -> bool:
        return other is None or other["quantity"] != item["quantity"]

    found = [
        one(item, -1, "Unused")
        for price_id, item in before.items()
        if credits_only or changed(item, after.get(price_id))
    ]
    if not credits_only:
        found += [
            one(item, 1, "Remaining")
            for price_id, item in after.items()
            if changed(item, before.get(price_id))
        ]
    return [p for p in found if p is not None]
