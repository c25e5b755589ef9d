"""The demo's contract changes: contract some orders, then amend, cancel and renew them live.

The dataset's ``contracts`` section (see ``cpq_demo.yaml``) says what sales does once the
orders have synced: an upsell of an existing line, more of a product on a new line, a downsell
taken newest seats first (LIFO, rule A1), a cancellation (A2) and a renewal (A3). The demo does
it as an integration user would, over REST: checks "Contracted" on each order (CPQ makes the
Contract), creates each amendment through the org's Apex REST amendment resource and activates
them together; the connector then rewrites each contract's schedule. Then it renews the
contracts to renew through the Apex REST renewal resource (after the amendments, so the renewal
carries each subscription's live quantity, as CPQ's does) and activates the renewal orders,
each of which starts a schedule of its own.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cpqsync_sandbox.demo.expectations import DatasetExpectationError, OrderExpectation
from cpqsync_sandbox.demo.org_client import OrgClient
from cpqsync_sandbox.org.dataset import read_dataset


@dataclass(frozen=True)
class LineChange:
    change: int
    revises: str | None = None  # product name of the order's line it changes
    product: str | None = None  # product name of a new line
    unit_price: float | None = None  # a new line's whole-term price


@dataclass(frozen=True)
class Amendment:
    name: str
    months: int  # after the contract's start
    lines: tuple[LineChange, ...] = ()
    cancel: bool = False


@dataclass(frozen=True)
class ContractChange:
    order: str  # the initial order's Name
    amendments: tuple[Amendment, ...] = ()
    renew: bool = False  # renew the contract once the amendments are activated


def contract_changes(dataset: Path) -> list[ContractChange]:
    """The dataset's ``contracts`` section (none: the demo amends nothing)."""
    section: Any = read_dataset(dataset).get("contracts") or []
    try:
        return [
            ContractChange(
                order=str(entry["order"]),
                amendments=tuple(
                    Amendment(
                        name=str(a["name"]),
                        months=int(a["months"]),
                        lines=tuple(
                            LineChange(
                                change=int(line["change"]),
                                revises=line.get("revises"),
                                product=line.get("product"),
                                unit_price=line.get("unit_price"),
                            )
                            for line in a.get("lines") or ()
                        ),
                        cancel=bool(a.get("cancel", False)),
                    )
                    for a in entry.get("amendments") or ()
                ),
                renew=bool(entry.get("renew", False)),
            )
            for entry in section
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise DatasetExpectationError(
            f"{dataset}: the contracts section is not as cpq_demo.yaml describes it: {exc!r}"
        ) from None


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later (the month's last day when it has no such day)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def change_contracts(
    org: OrgClient,
    changes: Sequence[ContractChange],
    synced: Mapping[str, OrderExpectation],
) -> list[OrderExpectation]:
    """Contract each order, create its amendments and activate them all, then renew the
    contracts to renew and activate the renewal orders; one expectation per order made
    (Success: an amendment naming its contract's schedule, a renewal naming one of its own).
    ``synced``: the activated orders by Name."""
    initial_ids = {}
    for change in changes:
        found = synced.get(change.order)
        if found is None or found.should_fail:
            raise DatasetExpectationError(
                f"the contracts section amends {change.order!r}, which is not an order that syncs"
            )
        initial_ids[change.order] = found.order_id
    contracts = org.contract_orders(list(initial_ids.values()))
    made: list[OrderExpectation] = []
    for change in changes:
        initial = initial_ids[change.order]
        contract = contracts[initial]
        lines = org.order_lines(initial)
        for amendment in change.amendments:
            begins = add_months(contract.start, amendment.months)
            body = _amendment_body(org, amendment, begins, lines, contract.currency)
            order_id = org.amend_contract(contract.contract_id, body)
            made.append(OrderExpectation(order_id, amendment.name, None, amends=initial))
    org.activate([e.order_id for e in made])
    renewals = {
        org.renew_contract(contracts[initial_ids[c.order]].contract_id): initial_ids[c.order]
        for c in changes
        if c.renew
    }
    names = org.order_names(list(renewals))
    renewed = [OrderExpectation(o, names[o], None, renews=i) for o, i in renewals.items()]
    org.activate([e.order_id for e in renewed])
    return made + renewed


def _amendment_body(
    org: OrgClient,
    amendment: Amendment,
    start: dt.date,
    lines: Mapping[str, str],
    currency: str,
) -> dict[str, Any]:
    """The Apex REST request body; ``lines``: the initial order's line id by product name."""
    body: dict[str, Any] = {"name": amendment.name, "startDate": start.isoformat()}
    if amendment.cancel:
        return {**body, "cancel": True}
    body["lines"] = [_line(org, line, lines, currency) for line in amendment.lines]
    return body


def _line(
    org: OrgClient, line: LineChange, lines: Mapping[str, str], currency: str
) -> dict[str, Any]:
    if line.revises is not None:
        if line.revises not in lines:
            raise DatasetExpectationError(f"the order has no line of {line.revises!r} to revise")
        return {"quantityChange": line.change, "revisedOrderProductId": lines[line.revises]}
    if line.product is None or line.unit_price is None:
        raise DatasetExpectationError("a new amendment line needs product and unit_price")
    return {
        "quantityChange": line.change,
        "pricebookEntryId": org.pricebook_entry(line.product, currency),
        "unitPrice": line.unit_price,
    }
