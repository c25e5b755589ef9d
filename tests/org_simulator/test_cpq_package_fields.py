"""The CPQ and connector package fields and objects real orders carry, as simple-salesforce sees
them: types, picklists, relationships, and the fields Salesforce computes (sources in
cpqsync_sandbox/org/README.md)."""

from __future__ import annotations

from typing import Any

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from cpqsync_sandbox.org.simulator import OrgSimulator
from tests.org_simulator.rest_support import org, sf  # noqa: F401


def _fields(sf: Salesforce, object_name: str) -> dict[str, dict[str, Any]]:  # noqa: F811
    described = getattr(sf, object_name).describe()
    return {f["name"]: f for f in described["fields"]}


def _picklist(field: dict[str, Any]) -> list[str]:
    return [v["value"] for v in field["picklistValues"]]


def test_cpq_fields_have_their_package_types(sf: Salesforce) -> None:  # noqa: F811
    item = _fields(sf, "OrderItem")
    for name, kind in {
        "SBQQ__DefaultSubscriptionTerm__c": "double",
        "SBQQ__QuotedListPrice__c": "currency",
        "SBQQ__UnproratedNetPrice__c": "currency",
        "SBQQ__ProrateMultiplier__c": "double",
        "SBQQ__SegmentIndex__c": "double",
        "SBQQ__SegmentKey__c": "string",
        "SBQQ__SegmentLabel__c": "string",
        "SBQQ__RevisedOrderProduct__c": "reference",
        "SBQQ__PriceDimension__c": "reference",
        "SBQQ__DimensionType__c": "picklist",
    }.items():
        assert item[name]["type"] == kind, name
        assert item[name]["custom"] is True
    assert item["SBQQ__PriceDimension__c"]["referenceTo"] == ["SBQQ__Dimension__c"]
    assert _picklist(item["SBQQ__DimensionType__c"]) == [
        "Year",
        "Quarter",
        "Month",
        "Custom",
        "One-time",
    ]
    assert _fields(sf, "Product2")["SBQQ__PriceEditable__c"]["type"] == "boolean"
    contract = _fields(sf, "Contract")
    assert contract["SBQQ__RenewalQuoted__c"]["type"] == "boolean"
    assert contract["SBQQ__RenewalForecast__c"]["type"] == "boolean"
    order = _fields(sf, "Order")
    assert order["TotalAmount"]["type"] == "currency"
    assert not order["TotalAmount"]["createable"] and not order["TotalAmount"]["updateable"]
    assert not order["OrderNumber"]["createable"] and not order["ActivatedDate"]["updateable"]
    dimension = _fields(sf, "SBQQ__Dimension__c")
    assert dimension["SBQQ__Product__c"]["referenceTo"] == ["Product2"]
    assert _picklist(dimension["SBQQ__Type__c"])[:3] == ["Year", "Quarter", "Month"]


def test_connector_coupon_objects_link_quotes_lines_and_orders(
    org: OrgSimulator,  # noqa: F811
    sf: Salesforce,  # noqa: F811
) -> None:
    coupon = _fields(sf, "Quote_Stripe_Coupon__c")
    assert _picklist(coupon["Duration__c"]) == ["once", "repeating", "forever"]
    assert coupon["Duration__c"]["restrictedPicklist"] is True
    assert coupon["Percent_Off__c"]["type"] == "double"
    order_coupon = _fields(sf, "Order_Stripe_Coupon__c")
    assert order_coupon["Order__c"]["referenceTo"] == ["Order"]
    assert order_coupon["Order_Item__c"]["referenceTo"] == ["OrderItem"]
    assert order_coupon["Stripe_ID__c"]["externalId"] is True

    quote = sf.SBQQ__Quote__c.create({})["id"]
    line = sf.SBQQ__QuoteLine__c.create({"SBQQ__Quote__c": quote})["id"]
    ten_off = sf.Quote_Stripe_Coupon__c.create(
        {"Name__c": "10% off", "Percent_Off__c": 10, "Duration__c": "repeating",
         "Duration_In_Months__c": 3}
    )["id"]  # fmt: skip
    sf.Quote_Stripe_Coupon_Association__c.create(
        {"Quote__c": quote, "Quote_Stripe_Coupon__c": ten_off}
    )
    sf.Quote_Line_Stripe_Coupon_Association__c.create(
        {"Quote_Line__c": line, "Quote_Stripe_Coupon__c": ten_off}
    )
    found = sf.query(
        "SELECT Id, (SELECT Quote_Stripe_Coupon__r.Percent_Off__c, "
        "Quote_Stripe_Coupon__r.Duration__c FROM Quote_In_Association__r) "
        f"FROM SBQQ__Quote__c WHERE Id = '{quote}'"
    )["records"][0]
    [association] = found["Quote_In_Association__r"]["records"]
    assert association["Quote_Stripe_Coupon__r"]["Percent_Off__c"] == 10
    assert association["Quote_Stripe_Coupon__r"]["Duration__c"] == "repeating"
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.Quote_Stripe_Coupon__c.create({"Percent_Off__c": 5, "Duration__c": "weekly"})
    assert refused.value.content[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    # Deleting the coupon takes its associations with it (master-detail).
    sf.Quote_Stripe_Coupon__c.delete(ten_off)
    assert sf.query("SELECT Id FROM Quote_Stripe_Coupon_Association__c")["totalSize"] == 0


def test_order_number_total_amount_and_activation_are_kept_by_the_org(
    org: OrgSimulator,  # noqa: F811
    sf: Salesforce,  # noqa: F811
) -> None:
    account = sf.Account.create({"Name": "Totals Inc"})["id"]
    product = sf.Product2.create({"Name": "Seat"})["id"]
    book = org.store.records("Pricebook2")[0]["Id"]
    entry = sf.PricebookEntry.create(
        {"Pricebook2Id": book, "Product2Id": product, "UnitPrice": 10, "IsActive": True}
    )["id"]
    first = sf.Order.create(
        {"AccountId": account, "Status": "Draft", "EffectiveDate": "2026-12-01"}
    )["id"]
    second = sf.Order.create(
        {"AccountId": account, "Status": "Draft", "EffectiveDate": "2026-12-01"}
    )["id"]
    numbers = [sf.Order.get(o)["OrderNumber"] for o in (first, second)]
    assert numbers[0].isdigit() and int(numbers[1]) == int(numbers[0]) + 1
    assert sf.Order.get(first)["TotalAmount"] == 0
    lines = [
        sf.OrderItem.create(
            {"OrderId": first, "PricebookEntryId": entry, "Quantity": q, "UnitPrice": p}
        )["id"]
        for q, p in ((3, 10.0), (2, 2.5))
    ]
    assert sf.Order.get(first)["TotalAmount"] == 35.0
    sf.OrderItem.update(lines[1], {"Quantity": 4})
    assert sf.Order.get(first)["TotalAmount"] == 40.0
    sf.OrderItem.delete(lines[0])
    assert sf.Order.get(first)["TotalAmount"] == 10.0
    with pytest.raises(SalesforceMalformedRequest):
        sf.Order.update(first, {"TotalAmount": 1})
    assert sf.Order.get(first)["ActivatedDate"] is None
    sf.Order.update(first, {"Status": "Activated"})
    activated = sf.Order.get(first)
    assert activated["ActivatedDate"] is not None
