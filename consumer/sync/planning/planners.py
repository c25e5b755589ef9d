"""The planner's entry points: one hydrated Salesforce record's view (``views``) in, one Plan out.

Each entry point applies the sync preferences first (S4 live sync, S3 filters), then plans the
record's Stripe operations; a data problem anywhere turns the whole plan into an error, since a
half-applied order would leave Stripe billing something Salesforce does not say.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from consumer.sync.mapping.data_error import DataError
from consumer.sync.planning.builder import PlanBuilder, issue_of
from consumer.sync.planning.context import PlanningContext
from consumer.sync.planning.customers import plan_customer
from consumer.sync.planning.orders import plan_order_operations
from consumer.sync.planning.plan import Issue, Plan, SourceRecord
from consumer.sync.planning.preferences import currency_of, gate
from consumer.sync.planning.prices import plan_pricebook_price, pricebook_price_params
from consumer.sync.planning.products import plan_product_sync
from consumer.sync.planning.views import AccountView, EntryView, OrderView, ProductView, RecordView
from cpqsync.mapping.coercion import CoercionError

_View = TypeVar("_View", bound=RecordView)


def _plan(
    object_type: str,
    record: _View,
    context: PlanningContext,
    planner: Callable[[PlanBuilder, _View, PlanningContext], None],
) -> Plan:
    root = SourceRecord(object_type, record.id)
    try:
        skip = gate(root, record, context)
        if skip is not None:
            return Plan(root, skips=(skip,))
        builder = PlanBuilder(root)
        # Whatever no narrower record is blamed for is the root's own fault (R4).
        with builder.blame(root, contain=True):
            planner(builder, record, context)
        return builder.build()
    except (DataError, CoercionError) as exc:  # the sync preferences' own checks
        return Plan(root, errors=(issue_of(exc, root),))


def plan_order(order: OrderView, *, context: PlanningContext) -> Plan:
    """An activated order: customer, products, prices, meters, then its schedule or invoice."""
    return _plan("Order", order, context, plan_order_operations)


def plan_account(account: AccountView, *, context: PlanningContext) -> Plan:
    """An account on its own: create or update its customer (C1)."""

    def planner(builder: PlanBuilder, record: AccountView, ctx: PlanningContext) -> None:
        plan_customer(builder, record, ctx)

    return _plan("Account", account, context, planner)


def plan_product(product: ProductView, *, context: PlanningContext) -> Plan:
    """A product on its own: create it, or update the existing one (P1)."""

    def planner(builder: PlanBuilder, record: ProductView, ctx: PlanningContext) -> None:
        plan_product_sync(builder, record, ctx, update_existing=True)

    return _plan("Product2", product, context, planner)


def plan_pricebook_entry(entry: EntryView, *, context: PlanningContext) -> Plan:
    """A pricebook entry on its own: its product, then its price (new, kept, or replaced: P7).

    The entry's view must hold its hydrated product (``PricebookEntry.Product2``).
    """

    def planner(builder: PlanBuilder, record: EntryView, ctx: PlanningContext) -> None:
        product = record.product
        if product is None or not product.has_id:
            raise DataError(
                "M2", "The following required fields are missing: PricebookEntry.Product2"
            )
        product_id = plan_product_sync(builder, product, ctx, update_existing=False)
        draft = pricebook_price_params(
            record, product, ctx, currency=currency_of(record, ctx), product_id=product_id
        )
        if draft is None:
            builder.skip(
                Issue(
                    "P9",
                    f"Skipped: negative unit price {record.field('UnitPrice')} "
                    "produces no Stripe price",
                    builder.root,
                    reported=ctx.trigger == "manual",
                )
            )
            return
        plan_pricebook_price(builder, record, product, draft, ctx)

    return _plan("PricebookEntry", entry, context, planner)
