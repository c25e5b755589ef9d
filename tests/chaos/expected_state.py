"""What Stripe should hold, according to the planner run cold on the org's final state.

Every activated order is hydrated with the sync's own ``Hydrator`` (over the org's REST API),
every ``Stripe_ID__c`` is removed (the planner treats those as objects that exist, and would
plan updates), and the order is planned as if Stripe were empty. The plan's create operations
are then the objects the order needs, with the parameters they must have now.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from consumer.sync.hydration import Hydrator
from consumer.sync.planning import Operation, Plan, PlanningContext
from consumer.sync.root_types import root_type
from consumer.sync.salesforce_reads import SalesforceReader
from consumer.sync.triggers import RecordRef
from cpqsync.salesforce.auth import SalesforceAuth
from cpqsync.salesforce.rest import SalesforceRest
from cpqsync.settings import Settings
from cpqsync_sandbox.org.simulator import OrgSimulator


def _without_stripe_ids(value: Any) -> Any:
    """A hydrated record as if nothing had been synced (``Stripe_ID__c`` makes plans updates)."""
    if isinstance(value, dict):
        return {k: _without_stripe_ids(v) for k, v in value.items() if k != "Stripe_ID__c"}
    if isinstance(value, list):
        return [_without_stripe_ids(v) for v in value]
    return value


@dataclass
class Expectation:
    """Planned objects by identity, from every activated order's cold plan."""

    plans: dict[str, Plan] = field(default_factory=dict)  # order id -> plan
    customers: dict[str, Operation] = field(default_factory=dict)  # account id
    products: dict[str, Operation] = field(default_factory=dict)  # Stripe product id
    meters: dict[str, Operation] = field(default_factory=dict)  # event name
    entry_prices: dict[str, Operation] = field(default_factory=dict)  # lookup key
    line_prices: dict[str, Operation] = field(default_factory=dict)  # order item id
    tolerated_orders: set[str] = field(default_factory=set)


def _record_id(op: Operation) -> str:
    return op.source.id


def plan_orders(
    org: OrgSimulator, settings: Settings, order_ids: Iterable[str], now: dt.datetime
) -> dict[str, Plan]:
    """Cold plans (Stripe assumed empty) of ``order_ids`` from the org's current state."""
    plans = plan_records(org, settings, "Order", order_ids, now)
    return {plan.root.id: plan for plan in plans}


def plan_records(
    org: OrgSimulator, settings: Settings, object_type: str, ids: Iterable[str], now: dt.datetime
) -> list[Plan]:
    rest = SalesforceRest(SalesforceAuth(settings.salesforce))
    reader = SalesforceReader(rest)
    hydrator = Hydrator(reader, settings)
    refs = [RecordRef(object_type, i) for i in ids]
    if not refs:
        return []
    records = hydrator.hydrate(refs)
    context = PlanningContext(
        settings=settings,
        now=now,
        sandbox=settings.salesforce.is_sandbox,
        trigger="live",
        salesforce_instance_url=reader.instance_url,
    )
    return [
        root_type(object_type).plan(_without_stripe_ids(record), context=context)
        for record in records.values()
    ]


def expectation(
    org: OrgSimulator,
    settings: Settings,
    now: dt.datetime,
    synced_entries: Iterable[str] = (),
) -> Expectation:
    """``synced_entries``: pricebook entries Stripe holds a price for. Once synced, an entry
    follows its changes (P7) even when no order uses its price any more, so each must have
    exactly one active price with its current parameters."""
    activated = [r for r in org.store.records("Order") if r.get("Status") == "Activated"]
    deleted = [
        r
        for r in org.store.records("Order", include_deleted=True)
        if r.get("IsDeleted") and r.get("Status") == "Activated"
    ]
    out = Expectation(tolerated_orders={str(r["Id"]) for r in deleted})
    out.plans = plan_orders(org, settings, [str(r["Id"]) for r in activated], now)
    for plan in out.plans.values():
        if plan.status != "ready":
            continue
        for op in plan.operations:
            if op.kind == "customer.create":
                out.customers[_record_id(op)] = op
            elif op.kind == "product.create":
                out.products[str(op.params["id"])] = op
            elif op.kind == "billing.meter.create":
                out.meters[str(op.params["event_name"])] = op
            elif op.kind == "price.create" and "lookup_key" in op.params:
                out.entry_prices[str(op.params["lookup_key"])] = op
            elif op.kind == "price.create":
                out.line_prices[_record_id(op)] = op
    used = {op.source.id for op in out.entry_prices.values()}
    for plan in plan_records(org, settings, "PricebookEntry", set(synced_entries) - used, now):
        for op in plan.operations:
            if op.kind == "price.create" and "lookup_key" in op.params:
                out.entry_prices.setdefault(str(op.params["lookup_key"]), op)
    return out
