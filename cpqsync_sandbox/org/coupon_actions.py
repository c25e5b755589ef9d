"""The Stripe connector package's coupons on activation, as a store trigger (spec A5).

A coupon on a quote (``Quote_Stripe_Coupon__c`` linked by ``Quote_Stripe_Coupon_Association__c``)
or on one quote line (``Quote_Line_Stripe_Coupon_Association__c``) is copied, when the order
activates, to an ``Order_Stripe_Coupon__c`` with the same terms: on the order (``Order__c``), and
for a line coupon also on the order product sold from that quote line (``Order_Item__c``).
``Quote_Stripe_Coupon_Id__c`` names the quote coupon it came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cpqsync_sandbox.org.store import OrgStore

_TERMS = (
    "Name__c",
    "Amount_Off__c",
    "Percent_Off__c",
    "Duration__c",
    "Duration_In_Months__c",
    "Max_Redemptions__c",
    "CurrencyIsoCode",
)


def install(store: OrgStore) -> None:
    store.add_trigger("Order", _copy_coupons_on_activation)


def _copy_coupons_on_activation(
    store: OrgStore, order: Mapping[str, Any], old: Mapping[str, Any] | None
) -> None:
    if order.get("Status") != "Activated" or (old or {}).get("Status") == "Activated":
        return
    quote = order.get("SBQQ__Quote__c")
    if not quote:
        return
    for link in store.children("Quote_Stripe_Coupon_Association__c", "Quote__c", quote):
        _copy(store, link["Quote_Stripe_Coupon__c"], order["Id"], None)
    for line in store.children("OrderItem", "OrderId", order["Id"]):
        quote_line = line.get("SBQQ__QuoteLine__c")
        if not quote_line:
            continue
        for link in store.children(
            "Quote_Line_Stripe_Coupon_Association__c", "Quote_Line__c", quote_line
        ):
            _copy(store, link["Quote_Stripe_Coupon__c"], order["Id"], line["Id"])


def _copy(store: OrgStore, coupon_id: str, order_id: str, line_id: str | None) -> None:
    coupon = store.get("Quote_Stripe_Coupon__c", coupon_id)
    values: dict[str, Any] = {k: coupon[k] for k in _TERMS if coupon.get(k) is not None}
    values.update(Order__c=order_id, Order_Item__c=line_id, Quote_Stripe_Coupon_Id__c=coupon_id)
    store.create("Order_Stripe_Coupon__c", values)
