"""A malformed record fails as the same Data Error, on the same record, whatever reads it.

The planner reads hydrated records through typed views (``planning.views``), whose accessors
convert when read. These are the Sync Record messages an admin sees for values of the wrong
type or shape where the planner needs a number, a date or a picklist option; they were taken
from the planner before the views existed and must not change (the golden scenarios cover
well-formed records).
"""

from __future__ import annotations

from typing import Any

import pytest

from consumer.sync.planning import Plan, plan_order, plan_pricebook_entry
from consumer.sync.planning.views import EntryView, OrderView
from tests.planner.scenario_loader import build_context, build_record, build_settings

ORDER = "801000000000001AAA"
LINE = "802000000000001AAA"
ENTRY = "01u000000000001AAA"
TWO_TIERS = [[0, 10, "PerUnit", 1], [10, None, "PerUnit", 2]]


def _plan(scenario: dict[str, Any], **replaced: Any) -> Plan:
    record = {**build_record(scenario), **replaced}
    context = build_context(scenario, build_settings(scenario))
    if scenario.get("plan") == "pricebook_entry":
        return plan_pricebook_entry(EntryView.of(record), context=context)
    return plan_order(OrderView.of(record), context=context)


def _line(**fields: Any) -> dict[str, Any]:
    return {"lines": [fields]}


ERRORS = [
    (_line(UnitPrice="abc"), {}, "M2", LINE, "Data Error: 'abc' is not a number"),
    (_line(UnitPrice=True), {}, "M2", LINE, "Data Error: True is not a number"),
    (
        _line(Quantity="two"),
        {},
        "O6",
        LINE,
        "Data Error: Quantity specified as a decimal value. Only integers are supported "
        f"(OrderItem {LINE} has quantity two)",
    ),
    (
        _line(Quantity=1.5),
        {},
        "O6",
        LINE,
        "Data Error: Quantity specified as a decimal value. Only integers are supported "
        f"(OrderItem {LINE} has quantity 1.5)",
    ),
    (
        _line(SBQQ__BillingFrequency__c=7),
        {},
        "P3",
        LINE,
        "Data Error: Billing frequency is not a supported CPQ Billing Frequency option: 7",
    ),
    (
        _line(tiers={"rates": [["x", 10, "PerUnit", 1], [10, None, "PerUnit", 2]]}),
        {},
        "P8",
        LINE,
        f"Data Error: Consumption rate bound is not a number on OrderItem {LINE}: x",
    ),
    (
        _line(tiers={"rates": [[0, 10.5, "PerUnit", 1], [10.5, None, "PerUnit", 2]]}),
        {},
        "P8",
        LINE,
        f"Data Error: Consumption rate upper bound is not whole on OrderItem {LINE}: 10.5",
    ),
    (
        _line(tiers={"rates": [[0, 10, "PerUnit", "cheap"], [10, None, "PerUnit", 2]]}),
        {},
        "P8",
        LINE,
        f"Data Error: Consumption rate price is missing or not a number on OrderItem {LINE}",
    ),
    (
        {"order": {"SBQQ__Quote__r": {"SBQQ__StartDate__c": "soon"}}, "lines": [{}]},
        {},
        "M2",
        ORDER,
        "Data Error: The following required fields are missing: SBQQ__Quote__r.SBQQ__StartDate__c",
    ),
    (
        {"order": {"SBQQ__Quote__r": {"SBQQ__SubscriptionTerm__c": 12.5}}, "lines": [{}]},
        {},
        "O2",
        ORDER,
        "Data Error: Subscription term must be a whole number of months: 12.5",
    ),
    (
        {"order": {"ActivatedDate": "yesterday", "EffectiveDate": "2020-01-01"}, "lines": [{}]}
        | {"config": {"sync": {"start_date": "2025-01-01"}}},
        {},
        "S2",
        ORDER,
        "Data Error: Failed to sync pre-integration order (activated 2020-01-01, before the sync "
        "start date 2025-01-01, setting sync.start_date)",
    ),
    (
        {"lines": [{}]},
        {"Account": "001000000000001AAA"},
        "M2",
        ORDER,
        "Data Error: The following required fields are missing: Order.Account",
    ),
    (
        {"lines": [{}]},
        {"SBQQ__Quote__c": None, "SBQQ__Quote__r": "a0Q000000000001AAA"},
        "O1",
        ORDER,
        "Data Error: There's no CPQ quote associated with this order",
    ),
    (
        {
            "order": {
                "Order_Lookup__r": {
                    "records": [{"Id": "a0O000000000001AAA", "Percent_Off__c": "ten"}]
                }
            },
            "lines": [{}],
        },
        {},
        "A5",
        "a0O000000000001AAA",
        "Data Error: Coupon a0O000000000001AAA: Percent_Off__c is not a number ('ten')",
    ),
    (
        {"plan": "pricebook_entry", "entry": {"UnitPrice": "lots"}},
        {},
        "M2",
        ENTRY,
        "Data Error: 'lots' is not a number",
    ),
    (
        {"plan": "pricebook_entry"},
        {"Product2": "01t000000000001AAA"},
        "M2",
        ENTRY,
        "Data Error: The following required fields are missing: PricebookEntry.Product2",
    ),
]


@pytest.mark.parametrize(("scenario", "replaced", "rule", "record_id", "message"), ERRORS)
def test_a_value_of_the_wrong_type_is_the_same_data_error(
    scenario: dict[str, Any], replaced: dict[str, Any], rule: str, record_id: str, message: str
) -> None:
    plan = _plan(scenario, **replaced)
    assert plan.status == "error"
    assert [(e.rule, e.record.id, e.message) for e in plan.errors] == [(rule, record_id, message)]


def test_a_line_priced_below_zero_is_left_out_as_its_record_says() -> None:
    plan = _plan({"lines": [{"UnitPrice": "-5.00"}, {"Id": "802000000000002AAA"}]})
    assert plan.status == "ready"
    assert [(s.rule, s.record.id, s.message) for s in plan.skips] == [
        ("P9", LINE, "Skipped: negative unit price -5.00 produces no Stripe price")
    ]
