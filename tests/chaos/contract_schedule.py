"""A contract's schedule recomputed from Salesforce's records alone (A1, A2, A6), for the checker.

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
- MDQ segments (A6): each segment's start starts a phase too, which holds the plain lines and
  the lines of the segment running then; an amendment line revising a segment's order product
  changes that segment only (a decrease takes the segment's newest lots first).
- The schedule ends the day after the contract's ``EndDate``, or where an amendment leaves no
  recurring line (a cancellation, A2): that phase is not billed, the previous one ends there.

Only contracts whose amendments all start in the future are modelled (the chaos workload makes
no others): an amendment starting today or earlier starts whenever the sync ran.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Records = Mapping[str, Mapping[str, Mapping[str, Any]]]  # object -> Id -> record
_SEGMENT_MONTHS = {"Year": 12, "Quarter": 3, "Month": 1}


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
    segment: tuple[dt.date, dt.date] | None = None  # an MDQ segment's period (A6)

    def runs(self, day: dt.date) -> bool:
        return self.segment is None or self.segment[0] <= day < self.segment[1]


def expected_schedule(records: Records, initial_order_id: str) -> ExpectedSchedule:
    order = records["Order"][initial_order_id]
    contract = records["Contract"][str(order["ContractId"])]
    items = _items_by_order(records)
    product = {i: str(item.get("Product2Id")) for i, item in records["OrderItem"].items()}
    start = as_date(contract["StartDate"])
    end = as_date(contract["EndDate"]) + dt.timedelta(days=1)
    lots = [
        _Lot(
            str(line["Id"]),
            product[str(line["Id"])],
            int(line["Quantity"]),
            segment_period(line, start, end) if line.get("SBQQ__SegmentIndex__c") else None,
        )
        for line in items.get(initial_order_id, [])
        if line.get("SBQQ__ChargeType__c") == "Recurring"
    ]
    segments = {lot.line: lot.segment for lot in lots if lot.segment}
    amendments = [
        (as_date(_quote(records, amendment)["SBQQ__StartDate__c"]), amendment)
        for amendment in _activated_amendments(records, str(contract["Id"]), initial_order_id)
    ]
    # A phase starts at the contract's start, at each amendment's and at each segment's.
    boundaries = sorted(
        {start, *(b for b, _ in amendments), *(period[0] for period in segments.values())}
    )
    phases = []
    applied = 0
    for begins in (b for b in boundaries if b < end):
        while applied < len(amendments) and amendments[applied][0] <= begins:
            _apply(lots, items.get(str(amendments[applied][1]["Id"]), []), product, segments)
            applied += 1
        phases.append(ExpectedPhase(begins, _quantities([lot for lot in lots if lot.runs(begins)])))
        if not phases[-1].quantities:  # a cancellation (A2): that phase is not billed
            return ExpectedSchedule(phases[:-1], begins, cancelled=True)
    return ExpectedSchedule(phases, end, cancelled=False)


def _apply(
    lots: list[_Lot],
    lines: list[Mapping[str, Any]],
    product: Mapping[str, str],
    segments: Mapping[str, tuple[dt.date, dt.date] | None],
) -> None:
    """An amendment's lines: a positive change adds a lot to the line it revises (or a line of
    its own); a negative one takes the newest lots first, of that segment for an MDQ segment's
    line, else of that product's plain lines (LIFO)."""
    for line in lines:
        change = int(line["Quantity"])
        revised = line.get("SBQQ__RevisedOrderProduct__c")
        sold = str(revised or line["Id"])
        if change > 0:
            lots.append(_Lot(sold, product[str(line["Id"])], change, segments.get(sold)))
        elif change < 0 and revised:
            if segments.get(sold):
                _take([lot for lot in lots if lot.line == sold], -change)
            else:
                plain = [lot for lot in lots if lot.segment is None]
                _take([lot for lot in plain if lot.product == product[sold]], -change)


def segment_period(
    line: Mapping[str, Any], start: dt.date, end: dt.date
) -> tuple[dt.date, dt.date]:
    """An MDQ order product's segment (A6), its first day and the day after its last: Year,
    Quarter and Month segments run 12, 3 and 1 months from the start (the last one ends with
    the term), Custom ones from the line's ``ServiceDate`` to its ``EndDate``."""
    months = _SEGMENT_MONTHS.get(str(line.get("SBQQ__DimensionType__c")))
    if months is None:
        return as_date(line["ServiceDate"]), as_date(line["EndDate"]) + dt.timedelta(days=1)
    index = int(line["SBQQ__SegmentIndex__c"])
    return add_months(start, (index - 1) * months), min(add_months(start, index * months), end)


def add_months(day: dt.date, months: int) -> dt.date:
    """``months`` later on the same day, or the month's last day when it has no such day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


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


def _take(lots: list[_Lot], quantity: int) -> None:
    for lot in reversed(lots):
        if quantity:
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
