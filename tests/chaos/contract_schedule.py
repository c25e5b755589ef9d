"""A contract's schedule recomputed from Salesforce's records alone (A1, A2), for the checker.

Independent of the planner (which the rest of the checker runs cold): it reads the org's
Contract, Order, OrderItem and quote records and applies the spec's rules directly, so a planner
that derived phases wrongly would still be caught.

- The first phase starts on the contract's start date and holds the initial order's recurring
  lines at their quantities.
- Activated amendments apply in start-date order (then activation time, then id); each starts a
  phase on its start date (one starting the same day as the previous phase replaces it). A line
  revising an order product (``SBQQ__RevisedOrderProduct__c``) changes that subscription; a
  positive line without one sells a new subscription of its own. Quantities are lots, one per
  order that added them: a decrease takes that product's most recently added lots first (LIFO).
- The schedule ends the day after the contract's ``EndDate``, or where an amendment leaves no
  recurring line (a cancellation, A2): that phase is not billed, the previous one ends there.

Only contracts whose amendments all start in the future are modelled (the chaos workload makes
no others): an amendment starting today or earlier starts whenever the sync ran.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Records = Mapping[str, Mapping[str, Mapping[str, Any]]]  # object -> Id -> record


@dataclass(frozen=True)
class ExpectedPhase:
    start: dt.date
    quantities: dict[str, int]  # order item id (the one that first sold it) -> quantity


@dataclass(frozen=True)
class ExpectedSchedule:
    phases: list[ExpectedPhase]
    end: dt.date  # the last phase's end
    cancelled: bool  # a cancellation ended it before the contract's end


@dataclass
class _Lot:
    line: str
    product: str
    quantity: int


def expected_schedule(records: Records, initial_order_id: str) -> ExpectedSchedule:
    order = records["Order"][initial_order_id]
    contract = records["Contract"][str(order["ContractId"])]
    items = _items_by_order(records)
    product = {i: str(item.get("Product2Id")) for i, item in records["OrderItem"].items()}
    lots = [
        _Lot(str(line["Id"]), product[str(line["Id"])], int(line["Quantity"]))
        for line in items.get(initial_order_id, [])
        if line.get("SBQQ__ChargeType__c") == "Recurring"
    ]
    phases = [ExpectedPhase(as_date(contract["StartDate"]), _quantities(lots))]
    end = as_date(contract["EndDate"]) + dt.timedelta(days=1)
    for amendment in _activated_amendments(records, str(contract["Id"]), initial_order_id):
        for line in items.get(str(amendment["Id"]), []):
            change = int(line["Quantity"])
            revised = line.get("SBQQ__RevisedOrderProduct__c")
            if change > 0:
                lots.append(_Lot(str(revised or line["Id"]), product[str(line["Id"])], change))
            elif change < 0 and revised:
                _take(lots, product[str(revised)], -change)
        begins = as_date(_quote(records, amendment)["SBQQ__StartDate__c"])
        phase = ExpectedPhase(begins, _quantities(lots))
        if phases[-1].start == begins:
            phases[-1] = phase
        else:
            phases.append(phase)
    if not phases[-1].quantities:
        return ExpectedSchedule(phases[:-1], phases[-1].start, cancelled=True)
    return ExpectedSchedule(phases, end, cancelled=False)


def schedule_mismatches(expected: ExpectedSchedule, actual: Mapping[str, Any]) -> list[str]:
    """How the Stripe schedule ``actual`` differs from ``expected`` (phases, dates, quantities)."""
    phases = actual.get("phases") or []
    got = [(epoch_day(p.get("start_date")), _item_quantities(p.get("items") or [])) for p in phases]
    want = [(p.start, p.quantities) for p in expected.phases]
    out = []
    if got != want:
        out.append(f"phases (start, quantity by order item) {got}, expected {want}")
    if phases and epoch_day(phases[-1].get("end_date")) != expected.end:
        out.append(f"ends {epoch_day(phases[-1].get('end_date'))}, expected {expected.end}")
    if expected.cancelled and actual.get("end_behavior") != "cancel":
        out.append(f"end_behavior {actual.get('end_behavior')!r} after a cancellation")
    return out


def _take(lots: list[_Lot], product: str, quantity: int) -> None:
    for lot in reversed(lots):
        if lot.product == product and quantity:
            taken = min(lot.quantity, quantity)
            lot.quantity -= taken
            quantity -= taken


def _quantities(lots: list[_Lot]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for lot in lots:
        totals[lot.line] = totals.get(lot.line, 0) + lot.quantity
    return {line: quantity for line, quantity in totals.items() if quantity > 0}


def _item_quantities(items: list[Mapping[str, Any]]) -> dict[str, int]:
    return {
        str((item.get("metadata") or {}).get("salesforce_order_item_id")): int(item["quantity"])
        for item in items
        if item.get("quantity") is not None
    }


def _items_by_order(records: Records) -> dict[str, list[Mapping[str, Any]]]:
    out: dict[str, list[Mapping[str, Any]]] = {}
    for item in sorted(records["OrderItem"].values(), key=lambda i: str(i["Id"])):
        if not item.get("IsDeleted"):
            out.setdefault(str(item["OrderId"]), []).append(item)
    return out


def _activated_amendments(
    records: Records, contract_id: str, initial_order_id: str
) -> list[Mapping[str, Any]]:
    found = [
        o
        for o in records["Order"].values()
        if o.get("ContractId") == contract_id
        and str(o["Id"]) != initial_order_id
        and o.get("Type") == "Amendment"
        and o.get("Status") == "Activated"
        and not o.get("IsDeleted")
    ]

    def applies_at(order: Mapping[str, Any]) -> tuple[str, str, str]:
        starts = as_date(_quote(records, order)["SBQQ__StartDate__c"])
        return str(starts), str(order.get("ActivatedDate") or ""), str(order["Id"])

    return sorted(found, key=applies_at)


def _quote(records: Records, order: Mapping[str, Any]) -> Mapping[str, Any]:
    return records["SBQQ__Quote__c"][str(order["SBQQ__Quote__c"])]


def as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def epoch_day(epoch: Any) -> dt.date | None:
    if not isinstance(epoch, int | float):
        return None
    return dt.datetime.fromtimestamp(epoch, dt.UTC).date()
