"""Which planner an order of a contract gets (unit tests with our own seams faked): an
amendment is never planned as an order of its own, whose changes would bill as totals."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from consumer.sync.contract_sync import ContractSync
from consumer.sync.hydration import Hydrator
from consumer.sync.planning import PlanningContext
from consumer.sync.stripe_lookup import StripeLookup, StripeView
from consumer.sync.triggers import RecordRef
from cpqsync.settings import Settings

INITIAL = "801000000000001AAA"
AMENDMENT = "801000000000002AAA"


class _Hydrator:
    def __init__(self, orders: list[dict[str, Any]]) -> None:
        self.orders = orders
        self.asked: list[object] = []

    def contract_orders(self, contract_id: str) -> list[dict[str, Any]]:
        self.asked.append(contract_id)
        return [o for o in self.orders if o.get("ContractId") == contract_id]

    def hydrate(self, refs: list[RecordRef]) -> dict[RecordRef, dict[str, Any]]:
        self.asked.extend(refs)
        return {r: o for r in refs for o in self.orders if o["Id"] == r.id}


def _context(view: StripeView) -> PlanningContext:
    return PlanningContext(settings=Settings(), now=dt.datetime(2026, 3, 10, tzinfo=dt.UTC))


def _sync(hydrator: _Hydrator) -> ContractSync:
    return ContractSync(cast(Hydrator, hydrator), cast(StripeLookup, None), sandbox=False)


def test_an_amendment_without_a_contract_is_an_error_not_an_order_of_its_own() -> None:
    order = {"Id": AMENDMENT, "Type": "Amendment", "Status": "Activated", "ContractId": None}
    planned = _sync(_Hydrator([])).plan(order, _context, deep=False)
    assert planned is not None and planned.plan.status == "error"
    assert "names no contract" in planned.plan.errors[0].message


def test_an_amendment_whose_initial_order_is_gone_is_an_error() -> None:
    order = {
        "Id": AMENDMENT,
        "Type": "Amendment",
        "Status": "Activated",
        "ContractId": "800000000000001AAA",
        "Contract": {"SBQQ__Order__c": INITIAL},
    }
    hydrator = _Hydrator([order])
    planned = _sync(hydrator).plan(order, _context, deep=False)
    assert planned is not None and planned.plan.status == "error"
    assert f"initial order {INITIAL} cannot be read" in planned.plan.errors[0].message
    # The initial order was looked for by id too (CPQ may leave its ContractId empty).
    assert RecordRef("Order", INITIAL) in hydrator.asked


def test_an_order_outside_any_contract_stays_with_the_order_planner() -> None:
    order = {"Id": INITIAL, "Type": "New", "Status": "Activated", "ContractId": None}
    hydrator = _Hydrator([])
    assert _sync(hydrator).plan(order, _context, deep=False) is None
    assert hydrator.asked == []
