"""The Stripe id and links written onto the Salesforce record a Success result synced (R3).

The record is the result's primary record: the sync consumer reports every
record it synced as the primary of its own Success result, with the root of the
attempt (the Order that pulled in an Account, say) as secondary (docs/sync.md).
Only the objects the connector package extends carry the fields; a result about
any other object gets its Sync Record and nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from schemas.models import SyncResult, SyncStatus

STRIPE_ID: Final = "Stripe_ID__c"
DASHBOARD_LINK: Final = "Stripe_Dashboard_Link__c"
INVOICE_PAYMENT_LINK: Final = "Stripe_Invoice_Payment_Link__c"

# Object -> whether it has Stripe_Dashboard_Link__c (OrderItem holds only the id).
SYNCED_OBJECTS: Final[dict[str, bool]] = {
    "Account": True,
    "Product2": True,
    "PricebookEntry": True,
    "Order": True,
    "OrderItem": False,
    "Order_Stripe_Coupon__c": True,  # A5: the coupon each record became
}

# Objects whose Stripe id may move to another Stripe object over time, so an older report of it
# must not follow a newer attempt's (batch_plan, fix 20): an entry's price is replaced (P7), an
# order's schedule releases into its subscription (A4), a line's price and an account's deleted
# customer are made again. A product (deterministic or adopted) and a coupon (keyed on its
# record) keep theirs, and a newer Success of a product may name none (its meter only, fix 14).
REPLACEABLE: Final = frozenset({"Account", "PricebookEntry", "Order", "OrderItem"})


@dataclass(frozen=True, slots=True)
class StripeIdUpdate:
    """One record's Stripe fields, as a collection update entry."""

    object_type: str
    record_id: str
    fields: dict[str, Any]

    def as_record(self) -> dict[str, Any]:
        return {"attributes": {"type": self.object_type}, "Id": self.record_id, **self.fields}


def stripe_id_update(result: SyncResult) -> StripeIdUpdate | None:
    """The update a Success result makes to its synced record, or None when there is none."""
    if result.status is not SyncStatus.SUCCESS or not result.stripe_object_id:
        return None
    object_type, record_id = result.primary_object_type, result.primary_record_id
    has_link = SYNCED_OBJECTS.get(object_type)
    if has_link is None:
        return None
    fields: dict[str, Any] = {STRIPE_ID: result.stripe_object_id}
    if has_link and result.dashboard_link:
        fields[DASHBOARD_LINK] = result.dashboard_link
    # The sync consumer sets the link only for one-time-only orders (their invoice is final).
    if object_type == "Order" and result.invoice_payment_link:
        fields[INVOICE_PAYMENT_LINK] = result.invoice_payment_link
    return StripeIdUpdate(object_type, record_id, fields)
