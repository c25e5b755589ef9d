"""What differs between the kinds of records the root stage syncs, in one registry.

Per object type: the planner entry point and the typed view it reads the hydrated record
through (``planning.views``), what Stripe already holds for a record (as the
Stripe object kind and id the results report), whether its changes sync before it is in
Stripe, which planner skips mean it is already in sync, and what to report after a clean
apply. Shared code reads a ``RootType``; it never branches on the object type.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from consumer.sync.planning import (
    Plan,
    PlanningContext,
    plan_account,
    plan_order,
    plan_pricebook_entry,
    plan_product,
)
from consumer.sync.planning.views import AccountView, EntryView, OrderView, ProductView, RecordView
from consumer.sync.stripe_lookup import StripeLookup, StripeView
from consumer.sync.unmarked_objects import Unmarked, unmarked_objects, unmarked_product

Record = Mapping[str, Any]
# (Stripe object kind, Stripe id) of what Stripe holds for a record.
Existing = tuple[str, str]


@dataclass(frozen=True)
class RootType:
    object_type: str
    # The planner entry point, and the view of a hydrated record it takes.
    planner: Callable[..., Plan]
    view: Callable[[Record], RecordView]
    existing: Callable[[str, StripeView], Existing | None]
    # False: the record's own changes sync only once it is in Stripe (or a sync filter selects
    # it); new ones come with an order, or by hand.
    syncs_before_stripe: bool = False
    # Planner skips that mean the record is already in sync: reported "up to date" with what
    # Stripe holds.
    in_sync_skips: frozenset[str] = frozenset()
    # After a clean apply: objects Stripe holds for the record's related records that their
    # Stripe_ID__c does not name yet (an interrupted attempt made them).
    unmarked: Callable[[Record, StripeView, StripeLookup], list[Unmarked]] | None = None
    # The record may belong to a CPQ contract, whose orders sync as one schedule (A1, A2:
    # ``contract_sync``).
    in_contract: bool = False
    # Object types whose Stripe objects another root writes (one writer per object): this
    # root creates them when missing and asks their root for any update (``root_asks``).
    others: frozenset[str] = frozenset()

    def plan(self, record: Record, *, context: PlanningContext) -> Plan:
        """The plan for a hydrated record: its typed view, built here once, planned."""
        return self.planner(self.view(record), context=context)


def _order_existing(record_id: str, view: StripeView) -> Existing | None:
    if record_id in view.subscriptions:  # an evergreen order's, once it exists (A4)
        return "subscription", view.subscriptions[record_id]
    if record_id in view.known.schedules:
        return "subscription_schedule", view.known.schedules[record_id]
    if record_id in view.invoices:
        return "invoice", view.invoices[record_id]
    return None


def _account_existing(record_id: str, view: StripeView) -> Existing | None:
    customer = view.known.customers.get(record_id)
    return ("customer", customer.id) if customer and not customer.deleted else None


def _product_existing(record_id: str, view: StripeView) -> Existing | None:
    product = view.known.products.get(record_id)
    return ("product", product) if product else None


def _entry_existing(record_id: str, view: StripeView) -> Existing | None:
    price = view.known.prices.get(record_id)
    return ("price", price.id) if price else None


def _order_unmarked(order: Record, view: StripeView, lookup: StripeLookup) -> list[Unmarked]:
    return unmarked_objects(order, view.known, partial(lookup.current_price_seen_at, view=view))


def _entry_unmarked(entry: Record, view: StripeView, lookup: StripeLookup) -> list[Unmarked]:
    return unmarked_product(entry, view.known)


REGISTRY: dict[str, RootType] = {
    kind.object_type: kind
    for kind in (
        RootType(
            "Order",
            plan_order,
            OrderView.of,
            _order_existing,
            syncs_before_stripe=True,
            # Already invoiced (O3): the order is in sync, and says so with its invoice.
            in_sync_skips=frozenset({"O3"}),
            unmarked=_order_unmarked,
            in_contract=True,
            # The account's customer: the Account's root is its one writer (C1).
            others=frozenset({"Account"}),
        ),
        RootType("Account", plan_account, AccountView.of, _account_existing),
        RootType("Product2", plan_product, ProductView.of, _product_existing),
        # Its product, when an order's interrupted attempt made it and this sync (asked for,
        # or by hand) made only its meter and price (fix 22).
        RootType(
            "PricebookEntry",
            plan_pricebook_entry,
            EntryView.of,
            _entry_existing,
            unmarked=_entry_unmarked,
        ),
    )
}


def root_type(object_type: str) -> RootType:
    try:
        return REGISTRY[object_type]
    except KeyError:
        raise ValueError(f"{object_type} records are not sync roots") from None
