"""Every kind of Stripe operation a plan may hold, in one table.

For each kind: the ``stripe.params`` TypedDict its parameters must match (the planner's own
table, ``mapping.stripe_schema.ENDPOINT_PARAMS``, checks plans against it), the StripeClient
call that sends it, whether it acts on an existing object (and so takes a target id), whether
it sets fields that Stripe may already hold (convergence drops such an update when it would
change nothing), whether neighbours of its kind may be sent together, which Salesforce records'
``Stripe_ID__c`` name the object it returns (rule R3), what the lookups learn from its
answer, and whether the lookups find again what a request of its kind made (so a create whose
key Stripe only ever answers with a stored 5xx may be sent under a new key). The applier,
stages, convergence, results and lookups read this table; nothing else
spells a kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

import stripe

from cpqsync.mapping.stripe_schema import ENDPOINT_PARAMS

Params = dict[str, Any]
# (client, target id or None, parameters, request options) -> Stripe's answer.
Call = Callable[[stripe.StripeClient, Any, Params, "stripe.RequestOptions"], stripe.StripeObject]


class Teaches(StrEnum):
    """Which of the lookups' memories an answer of the kind fills."""

    CUSTOMER = "customer"
    SCHEDULE = "subscription_schedule"
    PRODUCT = "product"
    PRICE = "price"
    METER = "billing.meter"


@dataclass(frozen=True)
class OperationKind:
    name: str
    call: Call
    # Acts on an existing object: the operation's target is that object's id.
    targets_existing: bool = False
    # Sets fields of an existing object: unnecessary when Stripe already holds them.
    updates: bool = False
    # Neighbours of this kind are independent of one another's order (plan_stages).
    parallel: bool = False
    # Salesforce objects whose Stripe_ID__c names the object this kind returns (rule R3).
    identifies: tuple[str, ...] = ()
    teaches: Teaches | None = None
    # A replayed answer is the object as first returned: false where it may be stale since
    # (a pricebook price replaced by another sync comes back active with its lookup key).
    replay_teaches: bool = True
    # A create whose object the lookups of a retry (``StripeLookup.view(deep=True)``) find
    # whenever an earlier request made it: planned from such lookups, the create made nothing
    # yet, so a key Stripe stored a 5xx for may be replaced by a new one. False for an invoice
    # (a draft is made again by design, O3) and its items (never looked up): a new key could
    # bill twice.
    found_by_lookups: bool = False

    @property
    def params(self) -> type:
        """The ``stripe.params`` TypedDict the kind's parameters match."""
        return ENDPOINT_PARAMS[self.name]

    @property
    def stripe_object(self) -> str:
        """``price.create`` -> ``price``; ``billing.meter.create`` -> ``billing.meter``."""
        return self.name.rsplit(".", 1)[0]

    @property
    def verb(self) -> str:
        """How a Sync Record says what the operation did."""
        return "created" if not self.targets_existing else "updated"


CUSTOMER_CREATE = OperationKind(
    "customer.create",
    lambda c, t, p, o: c.v1.customers.create(cast(Any, p), o),
    identifies=("Account",),
    teaches=Teaches.CUSTOMER,
    found_by_lookups=True,
)
CUSTOMER_UPDATE = OperationKind(
    "customer.update",
    lambda c, t, p, o: c.v1.customers.update(t, cast(Any, p), o),
    targets_existing=True,
    updates=True,
    identifies=("Account",),
    teaches=Teaches.CUSTOMER,
)
PRODUCT_CREATE = OperationKind(
    "product.create",
    lambda c, t, p, o: c.v1.products.create(cast(Any, p), o),
    parallel=True,
    identifies=("Product2",),
    teaches=Teaches.PRODUCT,
    found_by_lookups=True,
)
PRODUCT_UPDATE = OperationKind(
    "product.update",
    lambda c, t, p, o: c.v1.products.update(t, cast(Any, p), o),
    targets_existing=True,
    updates=True,
    parallel=True,
    identifies=("Product2",),
)
PRICE_CREATE = OperationKind(
    "price.create",
    lambda c, t, p, o: c.v1.prices.create(cast(Any, p), o),
    parallel=True,
    identifies=("PricebookEntry", "OrderItem"),
    teaches=Teaches.PRICE,
    replay_teaches=False,
    found_by_lookups=True,
)
PRICE_UPDATE = OperationKind(
    "price.update",
    lambda c, t, p, o: c.v1.prices.update(t, cast(Any, p), o),
    targets_existing=True,
    updates=True,
    parallel=True,
    teaches=Teaches.PRICE,
    replay_teaches=False,
)
METER_CREATE = OperationKind(
    "billing.meter.create",
    lambda c, t, p, o: c.v1.billing.meters.create(cast(Any, p), o),
    teaches=Teaches.METER,
    found_by_lookups=True,
)
# The package's coupon records (A5): the record's Stripe_ID__c names the coupon.
COUPON_CREATE = OperationKind(
    "coupon.create",
    lambda c, t, p, o: c.v1.coupons.create(cast(Any, p), o),
    parallel=True,
    identifies=("Order_Stripe_Coupon__c",),
    found_by_lookups=True,
)
# A coupon found under the record's id with the record's terms whose name changed (only its
# name and metadata can change in Stripe).
COUPON_UPDATE = OperationKind(
    "coupon.update",
    lambda c, t, p, o: c.v1.coupons.update(t, cast(Any, p), o),
    targets_existing=True,
    updates=True,
    parallel=True,
    identifies=("Order_Stripe_Coupon__c",),
)
SCHEDULE_CREATE = OperationKind(
    "subscription_schedule.create",
    lambda c, t, p, o: c.v1.subscription_schedules.create(cast(Any, p), o),
    identifies=("Order",),
    teaches=Teaches.SCHEDULE,
    found_by_lookups=True,
)
SCHEDULE_UPDATE = OperationKind(
    "subscription_schedule.update",
    lambda c, t, p, o: c.v1.subscription_schedules.update(t, cast(Any, p), o),
    targets_existing=True,
    updates=True,
    identifies=("Order",),
    teaches=Teaches.SCHEDULE,
)
SCHEDULE_CANCEL = OperationKind(
    "subscription_schedule.cancel",
    lambda c, t, p, o: c.v1.subscription_schedules.cancel(t, cast(Any, p), o),
    targets_existing=True,
)
# An evergreen subscription its schedule has released (A4): cancel_at, or cancelled now. The
# evergreen order's Stripe_ID__c names the subscription.
SUBSCRIPTION_UPDATE = OperationKind(
    "subscription.update",
    lambda c, t, p, o: c.v1.subscriptions.update(t, cast(Any, p), o),
    targets_existing=True,
    updates=True,
    identifies=("Order",),
)
SUBSCRIPTION_CANCEL = OperationKind(
    "subscription.cancel",
    lambda c, t, p, o: c.v1.subscriptions.cancel(t, cast(Any, p), o),
    targets_existing=True,
    identifies=("Order",),
)
INVOICE_ITEM_CREATE = OperationKind(
    "invoiceitem.create",
    lambda c, t, p, o: c.v1.invoice_items.create(cast(Any, p), o),
)
INVOICE_CREATE = OperationKind(
    "invoice.create",
    lambda c, t, p, o: c.v1.invoices.create(cast(Any, p), o),
    identifies=("Order",),
)
INVOICE_FINALIZE = OperationKind(
    "invoice.finalize",
    lambda c, t, p, o: c.v1.invoices.finalize_invoice(t, cast(Any, p), o),
    targets_existing=True,
)

OPERATION_KINDS: dict[str, OperationKind] = {
    kind.name: kind
    for kind in (
        CUSTOMER_CREATE,
        CUSTOMER_UPDATE,
        PRODUCT_CREATE,
        PRODUCT_UPDATE,
        PRICE_CREATE,
        PRICE_UPDATE,
        METER_CREATE,
        COUPON_CREATE,
        COUPON_UPDATE,
        SCHEDULE_CREATE,
        SCHEDULE_UPDATE,
        SCHEDULE_CANCEL,
        SUBSCRIPTION_UPDATE,
        SUBSCRIPTION_CANCEL,
        INVOICE_ITEM_CREATE,
        INVOICE_CREATE,
        INVOICE_FINALIZE,
    )
}


class UnknownOperationKind(ValueError):
    """A plan named a kind the table does not hold (a planner bug, not bad data)."""


def operation_kind(name: str) -> OperationKind:
    try:
        return OPERATION_KINDS[name]
    except KeyError:
        raise UnknownOperationKind(
            f"the sync does not know the Stripe operation kind {name!r}"
        ) from None
