"""What Stripe should hold, according to the planner run cold on the org's final state.

Every activated order is hydrated with the sync's own ``Hydrator`` (over the org's REST API),
every ``Stripe_ID__c`` is removed (the planner treats those as objects that exist, and would
plan updates), and the order is planned as if Stripe were empty. The plan's create operations
are then the objects the order needs, with the parameters they must have now.

An order of a CPQ contract with an activated amendment is planned with its whole contract
(``plan_contract``, from the initial order and every activated amendment, A1/A2): the contract's
plan is kept under its initial order, which names the schedule in Stripe, and each amendment
order is recorded as belonging to it (its ``Stripe_ID__c`` must name that schedule).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from consumer.sync.hydration import Hydrator
from consumer.sync.planning import ContractOrders, Operation, Plan, PlanningContext, plan_contract
from consumer.sync.planning.views import OrderView
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
    # amendment order id -> its contract's initial order id (whose plan holds the schedule)
    amendments: dict[str, str] = field(default_factory=dict)


def _record_id(op: Operation) -> str:
    return op.source.id


def plan_orders(
    org: OrgSimulator, settings: Settings, order_ids: Iterable[str], now: dt.datetime
) -> tuple[dict[str, Plan], dict[str, str]]:
    """Cold plans (Stripe assumed empty) of ``order_ids`` from the org's current state, by
    order id (a contract's under its initial order), and each amendment's initial order."""
    records, context = _hydrated(settings, "Order", order_ids, now)
    orders = [_without_stripe_ids(r) for r in records]
    full_ids = {str(o["Id"])[:15]: str(o["Id"]) for o in orders}  # ids may come 15 or 18 long
    initials = {
        str(o["Id"]): full_ids.get(str(o["Contract"]["SBQQ__Order__c"])[:15], "")
        for o in orders
        if isinstance(o.get("Contract"), dict) and o["Contract"].get("SBQQ__Order__c")
    }
    amendments = {
        order_id: initial
        for order_id, initial in initials.items()
        if initial and order_id != initial and _by_id(orders, order_id).get("Type") == "Amendment"
    }
    plans: dict[str, Plan] = {}
    for order in orders:
        order_id = str(order["Id"])
        if order_id in amendments:
            continue
        own = sorted(
            (_by_id(orders, a) for a, initial in amendments.items() if initial == order_id),
            key=lambda a: str(a["Id"]),
        )
        if own:
            contract = ContractOrders(OrderView.of(order), tuple(OrderView.of(a) for a in own))
            plans[order_id] = plan_contract(contract, order_id=order_id, context=context)
        else:
            plans[order_id] = root_type("Order").plan(order, context=context)
    return plans, amendments


def _by_id(records: list[dict[str, Any]], record_id: str) -> dict[str, Any]:
    return next(r for r in records if str(r["Id"]) == record_id)


def plan_records(
    org: OrgSimulator, settings: Settings, object_type: str, ids: Iterable[str], now: dt.datetime
) -> list[Plan]:
    records, context = _hydrated(settings, object_type, ids, now)
    plan = root_type(object_type).plan
    return [plan(_without_stripe_ids(record), context=context) for record in records]


def _hydrated(
    settings: Settings, object_type: str, ids: Iterable[str], now: dt.datetime
) -> tuple[list[dict[str, Any]], PlanningContext]:
    rest = SalesforceRest(SalesforceAuth(settings.salesforce))
    reader = SalesforceReader(rest)
    context = PlanningContext(
        settings=settings,
        now=now,
        sandbox=settings.salesforce.is_sandbox,
        trigger="live",
        salesforce_instance_url=reader.instance_url,
    )
    refs = [RecordRef(object_type, i) for i in ids]
    if not refs:
        return [], context
    records = Hydrator(reader, settings).hydrate(refs)
    return [dict(r) for r in records.values()], context


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
    out.plans, out.amendments = plan_orders(org, settings, [str(r["Id"]) for r in activated], now)
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
