"""The checker's own model of a contract's schedule (A1, A2), against hand-made Stripe states:
it accepts the schedule the spec derives and names each way a wrong one differs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from cpqsync_sandbox.datasets import default_dataset
from cpqsync_sandbox.org.cpq_actions import AmendmentLine
from cpqsync_sandbox.org.simulator import OrgSimulator
from tests.chaos.consistency import org_view
from tests.chaos.contract_schedule import expected_schedule, schedule_mismatches

START = dt.date(2027, 1, 10)


@pytest.fixture(scope="module")
def org() -> Iterator[OrgSimulator]:
    with OrgSimulator(dataset=default_dataset(), start_pubsub=False) as sim:
        yield sim


def _epoch(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


def _schedule(phases: list[tuple[dt.date, dict[str, int]]], end: dt.date) -> dict[str, Any]:
    starts = [start for start, _ in phases]
    return {
        "id": "sub_sched_1",
        "end_behavior": "cancel",
        "phases": [
            {
                "start_date": _epoch(start),
                "end_date": _epoch(following),
                "items": [
                    {"quantity": q, "metadata": {"salesforce_order_item_id": line}}
                    for line, q in quantities.items()
                ],
            }
            for (start, quantities), following in zip(phases, [*starts[1:], end], strict=True)
        ],
    }


def _contract(org: OrgSimulator, quantity: int) -> tuple[str, str, str]:
    """A contracted 12-month order of ``quantity`` Platform seats from START: order, line,
    contract."""
    refs = org.dataset.refs
    quote = org.create(
        "SBQQ__Quote__c",
        {"SBQQ__StartDate__c": START, "SBQQ__SubscriptionTerm__c": 12, "SBQQ__Primary__c": True},
    )
    order = org.create(
        "Order",
        {
            "AccountId": refs["acme"],
            "Pricebook2Id": refs["standard_pricebook"],
            "SBQQ__Quote__c": quote,
            "Status": "Draft",
            "EffectiveDate": START,
            "Type": "New",
        },
    )
    line = org.create(
        "OrderItem",
        {
            "OrderId": order,
            "PricebookEntryId": refs["platform_usd"],
            "Quantity": quantity,
            "UnitPrice": 1440,
            "SBQQ__ChargeType__c": "Recurring",
            "SBQQ__BillingFrequency__c": "Monthly",
        },
    )
    org.activate_order(order)
    return order, line, org.contract_order(order)


def test_a_decrease_takes_the_newest_seats_first_and_a_cancellation_ends_the_schedule(
    org: OrgSimulator,
) -> None:
    order, line, contract = _contract(org, 20)
    refs = org.dataset.refs
    upsell = org.amend_contract(contract, dt.date(2027, 3, 10), [AmendmentLine(5, revises=line)])
    added = org.amend_contract(
        contract,
        dt.date(2027, 5, 10),
        [AmendmentLine(8, pricebook_entry_id=refs["platform_usd"], unit_price=1320)],
    )
    downsell = org.amend_contract(
        contract, dt.date(2027, 7, 10), [AmendmentLine(-10, revises=line)]
    )
    for amendment in (upsell, added, downsell):
        org.activate_order(amendment)
    [new_line] = [i for i in org.store.records("OrderItem") if i["OrderId"] == added]
    new = str(new_line["Id"])
    phases = [
        (START, {line: 20}),
        (dt.date(2027, 3, 10), {line: 25}),
        (dt.date(2027, 5, 10), {line: 25, new: 8}),
        # -10 of Platform: the 8 newest (the new line), then 2 of the upsell's 5.
        (dt.date(2027, 7, 10), {line: 23}),
    ]
    view = org_view(org).records
    expected = expected_schedule(view, order)
    assert [(p.start, p.quantities) for p in expected.phases] == phases
    assert schedule_mismatches(expected, _schedule(phases, dt.date(2028, 1, 10))) == []

    # Taken from the line the downsell names (first in, first out): the checker says so.
    fifo = [*phases[:3], (dt.date(2027, 7, 10), {line: 15, new: 8})]
    [problem] = schedule_mismatches(expected, _schedule(fifo, dt.date(2028, 1, 10)))
    assert problem.startswith("phases (start, quantity by order item)")

    cancellation = org.cancel_contract(contract, dt.date(2027, 9, 10))
    org.activate_order(cancellation)
    cancelled = expected_schedule(org_view(org).records, order)
    assert cancelled.cancelled and cancelled.end == dt.date(2027, 9, 10)
    assert schedule_mismatches(cancelled, _schedule(phases, dt.date(2027, 9, 10))) == []
    # A schedule still running to the contract's end bills past the cancellation.
    [late] = schedule_mismatches(cancelled, _schedule(phases, dt.date(2028, 1, 10)))
    assert late == "ends 2028-01-10, expected 2027-09-10"
