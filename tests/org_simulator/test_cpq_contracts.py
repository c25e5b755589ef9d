"""CPQ's contract life in the org simulator, seen over REST as the connector sees it (spec A1/A2):
contracting an order, amending a contract (quantity changes, new products) and cancelling it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from cpqsync_sandbox.org.changes import ChangeBatch
from cpqsync_sandbox.org.cpq_actions import AmendmentLine, NewMdqProduct
from cpqsync_sandbox.org.errors import OrgError
from cpqsync_sandbox.org.simulator import OrgSimulator
from tests.org_simulator.rest_support import org, sf  # noqa: F401


def _seat_entry(org: OrgSimulator) -> tuple[str, str]:  # noqa: F811
    """A Seat product at 100.00 in the standard price book: (price book id, entry id)."""
    product = org.create(
        "Product2", {"Name": "Seat", "SBQQ__SubscriptionPricing__c": "Fixed Price"}
    )
    book = org.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true").records[0]["Id"]
    entry = org.create(
        "PricebookEntry",
        {"Pricebook2Id": book, "Product2Id": product, "UnitPrice": 100, "IsActive": True},
    )
    return book, entry


@pytest.fixture
def activated_order(org: OrgSimulator) -> Iterator[dict[str, str]]:  # noqa: F811
    """An activated 12-month order (start 2026-04-01) with one line of quantity 5."""
    account = org.create("Account", {"Name": "Contracts Inc"})
    book, entry = _seat_entry(org)
    other = org.create("Product2", {"Name": "Support"})
    other_entry = org.create(
        "PricebookEntry",
        {"Pricebook2Id": book, "Product2Id": other, "UnitPrice": 50, "IsActive": True},
    )
    quote = org.create(
        "SBQQ__Quote__c",
        {
            "SBQQ__StartDate__c": "2026-04-01",
            "SBQQ__SubscriptionTerm__c": 12,
            "SBQQ__Primary__c": True,
        },
    )
    order = org.create(
        "Order",
        {
            "AccountId": account,
            "Pricebook2Id": book,
            "SBQQ__Quote__c": quote,
            "Status": "Draft",
            "EffectiveDate": "2026-04-01",
            "Type": "New",
        },
    )
    line = org.create(
        "OrderItem",
        {"OrderId": order, "PricebookEntryId": entry, "Quantity": 5, "UnitPrice": 1200},
    )
    org.activate_order(order)
    yield {"order": order, "line": line, "quote": quote, "other_entry": other_entry}


def test_checking_contracted_over_rest_creates_the_contract(
    org: OrgSimulator,  # noqa: F811
    sf: Salesforce,  # noqa: F811
    activated_order: dict[str, str],
) -> None:
    batches: list[ChangeBatch] = []
    org.add_change_listener(batches.append)
    sf.Order.update(activated_order["order"], {"SBQQ__Contracted__c": True})
    contracts = sf.query(
        "SELECT Id, Status, StartDate, EndDate, ContractTerm, SBQQ__Order__c, SBQQ__Quote__c "
        f"FROM Contract WHERE SBQQ__Order__c = '{activated_order['order']}'"
    )["records"]
    assert len(contracts) == 1
    contract = contracts[0]
    assert contract["Status"] == "Activated"
    assert (contract["StartDate"], contract["EndDate"]) == ("2026-04-01", "2027-03-31")
    assert contract["ContractTerm"] == 12
    assert contract["SBQQ__Quote__c"] == activated_order["quote"]
    order = sf.Order.get(activated_order["order"])
    assert order["ContractId"] == contract["Id"]
    # One transaction: the order's change and the new contract publish together.
    assert len(batches) == 1
    entities = {(c.entity, c.change_type) for c in batches[0].changes}
    assert ("Contract", "CREATE") in entities and ("Order", "UPDATE") in entities


def test_a_draft_order_cannot_be_contracted(
    org: OrgSimulator,  # noqa: F811
    sf: Salesforce,  # noqa: F811
) -> None:
    account = org.create("Account", {"Name": "Draft Co"})
    order = org.create(
        "Order", {"AccountId": account, "Status": "Draft", "EffectiveDate": "2026-04-01"}
    )
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Order.update(order, {"SBQQ__Contracted__c": True})
    content: Any = caught.value.content
    assert content[0]["errorCode"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    assert sf.query(f"SELECT Id FROM Contract WHERE SBQQ__Order__c = '{order}'")["totalSize"] == 0


def test_an_amendment_carries_quantity_changes_revising_the_original_lines(
    org: OrgSimulator,  # noqa: F811
    sf: Salesforce,  # noqa: F811
    activated_order: dict[str, str],
) -> None:
    contract = org.contract_order(activated_order["order"])
    amendment = org.amend_contract(
        contract,
        date(2026, 7, 1),
        [
            AmendmentLine(quantity_change=2, revises=activated_order["line"]),
            AmendmentLine(
                quantity_change=3, pricebook_entry_id=activated_order["other_entry"], unit_price=600
            ),
        ],
    )
    sf.Order.update(amendment, {"Status": "Activated"})
    order = sf.query(
        "SELECT Id, Type, Status, ContractId, Opportunity.SBQQ__AmendedContract__c, "
        "SBQQ__Quote__r.SBQQ__Type__c, SBQQ__Quote__r.SBQQ__StartDate__c, "
        "SBQQ__Quote__r.SBQQ__EndDate__c, SBQQ__Quote__r.SBQQ__MasterContract__c, "
        "(SELECT Quantity, UnitPrice, SBQQ__RevisedOrderProduct__c, SBQQ__ContractAction__c, "
        "SBQQ__ProrateMultiplier__c FROM OrderItems ORDER BY Quantity) "
        f"FROM Order WHERE Id = '{amendment}'"
    )["records"][0]
    assert (order["Type"], order["Status"], order["ContractId"]) == (
        "Amendment",
        "Activated",
        contract,
    )
    assert order["Opportunity"]["SBQQ__AmendedContract__c"] == contract
    quote = order["SBQQ__Quote__r"]
    assert quote["SBQQ__Type__c"] == "Amendment"
    assert quote["SBQQ__MasterContract__c"] == contract
    # Co-terminating: the amendment runs from its start to the contract's end date.
    assert (quote["SBQQ__StartDate__c"], quote["SBQQ__EndDate__c"]) == ("2026-07-01", "2027-03-31")
    upsell, added = order["OrderItems"]["records"]
    # The CHANGE (+2), not the new total (7), on the original line; 9 of 12 months remain.
    assert upsell["Quantity"] == 2
    assert upsell["SBQQ__RevisedOrderProduct__c"] == activated_order["line"]
    assert upsell["SBQQ__ContractAction__c"] == "Quantity Increase"
    assert upsell["SBQQ__ProrateMultiplier__c"] == 0.75
    assert upsell["UnitPrice"] == 900  # the subscription's 1200 prorated to 9 months
    assert added["SBQQ__RevisedOrderProduct__c"] is None
    assert added["SBQQ__ContractAction__c"] == "New"
    assert added["UnitPrice"] == 450


def test_cancelling_takes_every_live_line_to_zero(
    org: OrgSimulator,  # noqa: F811
    sf: Salesforce,  # noqa: F811
    activated_order: dict[str, str],
) -> None:
    contract = org.contract_order(activated_order["order"])
    first = org.amend_contract(
        contract,
        date(2026, 7, 1),
        [
            AmendmentLine(quantity_change=-1, revises=activated_order["line"]),
            AmendmentLine(
                quantity_change=3, pricebook_entry_id=activated_order["other_entry"], unit_price=600
            ),
        ],
    )
    org.activate_order(first)
    added = sf.query(f"SELECT Id FROM OrderItem WHERE OrderId = '{first}' AND Quantity = 3")
    cancellation = org.cancel_contract(contract, date(2026, 10, 1))
    lines = sf.query(
        "SELECT Quantity, SBQQ__RevisedOrderProduct__c, SBQQ__ContractAction__c "
        f"FROM OrderItem WHERE OrderId = '{cancellation}'"
    )["records"]
    changes = {line["SBQQ__RevisedOrderProduct__c"]: line["Quantity"] for line in lines}
    assert changes == {activated_order["line"]: -4, added["records"][0]["Id"]: -3}
    assert {line["SBQQ__ContractAction__c"] for line in lines} == {"Quantity Decrease"}


def _mdq_contract(org: OrgSimulator) -> tuple[str, list[str]]:  # noqa: F811
    """A contracted 24-month order (start 2026-04-01) of two Year segments: 10 then 15 seats."""
    account = org.create("Account", {"Name": "Segments Inc"})
    book, entry = _seat_entry(org)
    quote = org.create(
        "SBQQ__Quote__c",
        {
            "SBQQ__StartDate__c": "2026-04-01",
            "SBQQ__SubscriptionTerm__c": 24,
            "SBQQ__Primary__c": True,
        },
    )
    order = org.create(
        "Order",
        {"AccountId": account, "Pricebook2Id": book, "SBQQ__Quote__c": quote, "Status": "Draft",
         "EffectiveDate": "2026-04-01", "Type": "New"},
    )  # fmt: skip
    lines = [
        org.create(
            "OrderItem",
            {
                "OrderId": order,
                "PricebookEntryId": entry,
                "Quantity": quantity,
                "UnitPrice": 1200,
                "SBQQ__SegmentIndex__c": index,
                "SBQQ__SegmentKey__c": "SEATS",
                "SBQQ__SegmentLabel__c": f"Year {index}",
                "SBQQ__DimensionType__c": "Year",
            },
        )
        for index, quantity in ((1, 10), (2, 15))
    ]
    org.activate_order(order)
    return org.contract_order(order), lines


def test_an_mdq_amendment_changes_each_running_segment_by_a_line_of_its_own(
    org: OrgSimulator,  # noqa: F811
    sf: Salesforce,  # noqa: F811
) -> None:
    contract, [year1, year2] = _mdq_contract(org)
    amendment = org.amend_contract(
        contract,
        date(2026, 10, 1),
        [AmendmentLine(2, revises=year1), AmendmentLine(3, revises=year2)],
    )
    lines = sf.query(
        "SELECT Quantity, UnitPrice, ServiceDate, EndDate, SBQQ__RevisedOrderProduct__c, "
        "SBQQ__SegmentIndex__c, SBQQ__SegmentKey__c, SBQQ__SegmentLabel__c, "
        "SBQQ__DimensionType__c FROM OrderItem "
        f"WHERE OrderId = '{amendment}' ORDER BY SBQQ__SegmentIndex__c"
    )["records"]
    got = [
        (line["SBQQ__RevisedOrderProduct__c"], line["SBQQ__SegmentIndex__c"],
         line["SBQQ__SegmentKey__c"], line["SBQQ__SegmentLabel__c"],
         line["SBQQ__DimensionType__c"], line["Quantity"], line["ServiceDate"], line["EndDate"],
         line["UnitPrice"])
        for line in lines
    ]  # fmt: skip
    # Year 1 from the amendment's start (half of its 1,200.00 left), Year 2 from its own start.
    assert got == [
        (year1, 1, "SEATS", "Year 1", "Year", 2, "2026-10-01", "2027-03-31", 600),
        (year2, 2, "SEATS", "Year 2", "Year", 3, "2027-04-01", "2028-03-31", 1200),
    ]


def test_an_mdq_segment_that_has_ended_cannot_be_amended_nor_is_cancelled(
    org: OrgSimulator,  # noqa: F811
    sf: Salesforce,  # noqa: F811
) -> None:
    contract, [year1, year2] = _mdq_contract(org)
    with pytest.raises(OrgError, match="ended before the amendment's start date"):
        org.amend_contract(contract, date(2027, 6, 1), [AmendmentLine(2, revises=year1)])
    cancellation = org.cancel_contract(contract, date(2027, 6, 1))
    lines = sf.query(
        "SELECT Quantity, SBQQ__RevisedOrderProduct__c, ServiceDate FROM OrderItem "
        f"WHERE OrderId = '{cancellation}'"
    )["records"]
    assert [
        (line["SBQQ__RevisedOrderProduct__c"], line["Quantity"], line["ServiceDate"])
        for line in lines
    ] == [(year2, -15, "2027-06-01")]


def test_a_new_mdq_product_on_an_amendment_is_a_line_per_segment_on_the_contracts_timeline(
    org: OrgSimulator,  # noqa: F811
    sf: Salesforce,  # noqa: F811
) -> None:
    """A6: the amendment quote shows the new product's segments from the one running on its
    start (Year 1, prorated from 2026-10-01) to the contract's end, each a line of its own
    with one segment key, no revised order product and the segment's quantity; a later
    cancellation takes the segments still running to zero, not the one that ended."""
    contract, [_, year2] = _mdq_contract(org)
    _, storage = _seat_entry(org)
    amendment = org.amend_contract(
        contract, date(2026, 10, 1), [NewMdqProduct(storage, (2, 4), unit_price=1200)]
    )
    lines = sf.query(
        "SELECT Id, Quantity, UnitPrice, ServiceDate, EndDate, SBQQ__RevisedOrderProduct__c, "
        "SBQQ__SegmentIndex__c, SBQQ__SegmentKey__c, SBQQ__SegmentLabel__c, "
        "SBQQ__DimensionType__c, SBQQ__ProrateMultiplier__c, SBQQ__ContractAction__c "
        f"FROM OrderItem WHERE OrderId = '{amendment}' ORDER BY SBQQ__SegmentIndex__c"
    )["records"]
    got = [
        (line["SBQQ__RevisedOrderProduct__c"], line["SBQQ__SegmentIndex__c"],
         line["SBQQ__SegmentLabel__c"], line["SBQQ__DimensionType__c"], line["Quantity"],
         line["ServiceDate"], line["EndDate"], line["SBQQ__ProrateMultiplier__c"],
         line["UnitPrice"], line["SBQQ__ContractAction__c"])
        for line in lines
    ]  # fmt: skip
    assert got == [
        (None, 1, "Year 1", "Year", 2, "2026-10-01", "2027-03-31", 0.5, 600, "New"),
        (None, 2, "Year 2", "Year", 4, "2027-04-01", "2028-03-31", 1, 1200, "New"),
    ]
    assert len({line["SBQQ__SegmentKey__c"] for line in lines}) == 1
    org.activate_order(amendment)
    cancellation = org.cancel_contract(contract, date(2027, 6, 1))
    cancelled = sf.query(
        "SELECT Quantity, SBQQ__RevisedOrderProduct__c FROM OrderItem "
        f"WHERE OrderId = '{cancellation}'"
    )["records"]
    # The contract's Year 2 and the product's Year 2 go to zero; both Year 1s have ended.
    assert sorted(
        (line["SBQQ__RevisedOrderProduct__c"], line["Quantity"]) for line in cancelled
    ) == sorted([(year2, -15), (lines[1]["Id"], -4)])


def test_the_apex_rest_resource_amends_and_cancels_a_contract_as_cpq_does(
    org: OrgSimulator,  # noqa: F811
    sf: Salesforce,  # noqa: F811
    activated_order: dict[str, str],
) -> None:
    """What the demo uses from another process: the same amendment as ``amend_contract``."""
    sf.Order.update(activated_order["order"], {"SBQQ__Contracted__c": True})
    contract = sf.Order.get(activated_order["order"])["ContractId"]
    path = f"cpqsync/contracts/{contract}/amendments"
    used = org.api_usage.used
    upsell = sf.apexecute(
        path,
        method="POST",
        data={
            "name": "Contracts Inc - Upsell",
            "startDate": "2026-07-01",
            "lines": [
                {"quantityChange": 2, "revisedOrderProductId": activated_order["line"]},
                {
                    "quantityChange": 3,
                    "pricebookEntryId": activated_order["other_entry"],
                    "unitPrice": 600,
                },
            ],
        },
    )["orderId"]
    assert org.api_usage.used == used + 1  # an Apex REST call counts like any API call
    order = sf.query(
        "SELECT Name, Type, Status, ContractId, SBQQ__Quote__r.SBQQ__StartDate__c, "
        "(SELECT Quantity, UnitPrice, SBQQ__RevisedOrderProduct__c FROM OrderItems "
        f"ORDER BY Quantity) FROM Order WHERE Id = '{upsell}'"
    )["records"][0]
    assert (order["Name"], order["Type"], order["Status"], order["ContractId"]) == (
        "Contracts Inc - Upsell",
        "Amendment",
        "Draft",
        contract,
    )
    assert order["SBQQ__Quote__r"]["SBQQ__StartDate__c"] == "2026-07-01"
    lines = [
        (i["Quantity"], i["UnitPrice"], i["SBQQ__RevisedOrderProduct__c"])
        for i in order["OrderItems"]["records"]
    ]
    assert lines == [(2, 900, activated_order["line"]), (3, 450, None)]
    sf.Order.update(upsell, {"Status": "Activated"})

    cancellation = sf.apexecute(
        path, method="POST", data={"startDate": "2026-10-01", "cancel": True}
    )["orderId"]
    changes = sf.query(
        f"SELECT Quantity FROM OrderItem WHERE OrderId = '{cancellation}' ORDER BY Quantity"
    )["records"]
    assert [c["Quantity"] for c in changes] == [-7, -3]  # every live line to zero

    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.apexecute(path, method="POST", data={"startDate": "soon", "lines": []})
    content: Any = caught.value.content
    assert content[0]["errorCode"] == "JSON_PARSER_ERROR"


def test_the_apex_rest_resource_adds_a_new_mdq_product_as_a_line_per_segment(
    org: OrgSimulator,  # noqa: F811
    sf: Salesforce,  # noqa: F811
) -> None:
    contract, _ = _mdq_contract(org)
    _, storage = _seat_entry(org)
    path = f"cpqsync/contracts/{contract}/amendments"
    line = {"pricebookEntryId": storage, "unitPrice": 1200, "dimensionType": "Year"}
    added = sf.apexecute(
        path,
        method="POST",
        data={"startDate": "2027-01-01", "lines": [{**line, "segmentQuantities": [2, 6]}]},
    )["orderId"]
    lines = sf.query(
        "SELECT Quantity, SBQQ__SegmentIndex__c, ServiceDate, UnitPrice FROM OrderItem "
        f"WHERE OrderId = '{added}' ORDER BY SBQQ__SegmentIndex__c"
    )["records"]
    got = [
        (r["SBQQ__SegmentIndex__c"], r["Quantity"], r["ServiceDate"], r["UnitPrice"]) for r in lines
    ]
    assert got == [(1, 2, "2027-01-01", 300), (2, 6, "2027-04-01", 1200)]
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.apexecute(
            path,
            method="POST",
            data={"startDate": "2027-01-01", "lines": [{**line, "segmentQuantities": "two"}]},
        )
    content: Any = caught.value.content
    assert content[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
