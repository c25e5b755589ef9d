"""Records whose Stripe object exists while their ``Stripe_ID__c`` does not name it yet.

Results are only written for what an attempt applied. An attempt that created an order's
customer, product or pricebook price and was then interrupted (its process killed, a later
call failing for good) never reported them; the retry finds them in Stripe and plans nothing
for them, so without this they would never be reported: no ``Stripe_ID__c`` and no Success
Sync Record (rule R3). The chaos suite found such products after SIGKILLs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from consumer.sync.planning import KnownStripeObjects, SourceRecord
from consumer.sync.planning.context import KnownPrice
from consumer.sync.planning.coupons import coupon_records
from consumer.sync.planning.views import OrderView, related_records


class Unmarked(NamedTuple):
    record: SourceRecord
    kind: str  # the Stripe object's kind
    stripe_id: str
    # When Stripe said the object is the record's (a confirmed entry price); None: now.
    seen_at: dt.datetime | None = None


def unmarked_objects(
    order: Mapping[str, Any],
    known: KnownStripeObjects,
    still_current: Callable[[str], dt.datetime | None] = lambda _price_id: None,
) -> list[Unmarked]:
    """The order's account, products and pricebook entries whose Stripe id is not on them.

    A pricebook entry whose ``Stripe_ID__c`` names another price is reported only when
    ``still_current`` confirms, just now, that ours is the entry's price (returning when it
    asked; None where it is not): entries' prices are replaced (P7), and the id on the entry
    may be newer than this order's view of it (read from memory, or before the entry's own
    sync replaced it); reporting that older price would write it over the newer one, and
    nothing would set it right again (fix 11). The report is stamped with that time, not with
    when the order's results are built: the entry's own sync may replace the price in between,
    and its newer result must win at the writeback (fix 20)."""
    found: dict[SourceRecord, Unmarked] = {}

    def check(object_type: str, record: Any, kind: str, stripe_id: str | None) -> None:
        if not isinstance(record, Mapping) or not record.get("Id") or not stripe_id:
            return
        stored = record.get("Stripe_ID__c")
        if stored == stripe_id:
            return
        seen_at = None
        if kind == "price" and stored:
            seen_at = still_current(stripe_id)
            if seen_at is None:
                return
        source = SourceRecord(object_type, str(record["Id"]))
        found[source] = Unmarked(source, kind, stripe_id, seen_at)

    account = order.get("Account")
    if isinstance(account, Mapping):
        customer = known.customers.get(str(account.get("Id")))
        if customer is not None and not customer.deleted:
            check("Account", account, "customer", customer.id)
    for item in related_records(order.get("OrderItems")):
        for unmarked in unmarked_product(item, known):
            found[unmarked.record] = unmarked
        entry = item.get("PricebookEntry")
        if isinstance(entry, Mapping):
            price = known.prices.get(str(entry.get("Id")))
            check("PricebookEntry", entry, "price", price.id if price else None)
        line_price = known.line_prices.get(str(item.get("Id")))
        if line_price is not None and _inline(line_price):
            # sync.inline_line_prices: the schedule's answer named it, and an attempt
            # interrupted before its results never wrote it to the line; the retry's
            # schedule update changes nothing and is dropped (convergence).
            check("OrderItem", item, "price", line_price.id)
    for coupon in coupon_records(OrderView.of(order)):
        # A5: a coupon an interrupted attempt made, found under the record's id and reused.
        held = known.coupons.get(str(coupon.field("Id")))
        check("Order_Stripe_Coupon__c", coupon.raw, "coupon", str(held["id"]) if held else None)
    return list(found.values())


def unmarked_product(record: Mapping[str, Any], known: KnownStripeObjects) -> list[Unmarked]:
    """The product of ``record`` (an order line or a pricebook entry, ``Product2`` hydrated)
    when Stripe holds it and its ``Stripe_ID__c`` does not name it: whoever needs a product
    first creates it, so another root's attempt may have made it and been interrupted before
    reporting it, while this root's plan found it and made at most its meter (fix 22)."""
    product = record.get("Product2")
    if not isinstance(product, Mapping) or not product.get("Id"):
        return []
    stripe_id = known.products.get(str(product["Id"]))
    if not stripe_id or product.get("Stripe_ID__c") == stripe_id:
        return []
    return [Unmarked(SourceRecord("Product2", str(product["Id"])), "product", stripe_id)]


def _inline(known: KnownPrice) -> bool:
    """A price Stripe made from a schedule item's price_data: inactive, no lookup key and no
    metadata (a line price of P6 has its line's, an entry's price its lookup key)."""
    price = known.price
    return (
        price is not None
        and price.get("active") is False
        and not price.get("lookup_key")
        and not price.get("metadata")
    )
