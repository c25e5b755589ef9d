"""CPQ's renewal of a contract in the org simulator, seen over REST (spec A3): the renewal
opportunity, quote and order CPQ creates, and the new contract the renewal order starts."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError

from cpqsync_sandbox.org.cpq_actions import AmendmentLine
from cpqsync_sandbox.org.simulator import OrgSimulator
from tests.org_simulator.rest_support import org, sf  # noqa: F401


def _contracted(org: OrgSimulator) -> tuple[str, str, str]:  # noqa: F811
    """A contracted 12-month order from 2026-04-01: 5 seats at 1,200.00; (contract, line, entry)."""
    account = org.create("Account", {"Name": "Renewals Inc"})
    product = org.create(
        "Product2", {"Name": "Seat", "SBQQ__SubscriptionPricing__c": "Fixed Price"}
    )
    book = org.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true").records[0]["Id"]
    entry = org.create(
        "PricebookEntry",
        {"Pricebook2Id": book, "Product2Id": product, "UnitPrice": 100, "IsActive": True},
    )
    quote = org.create(
        "SBQQ__Quote__c",
        {
            "SBQQ__StartDate__c": "2026-04-01",
            "SBQQ__SubscriptionTerm__c": 12,
            "SBQQ__Primary__c": True,
            "SBQQ__PaymentTerm__c": "Net 30",
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
        {
            "OrderId": order,
            "PricebookEntryId": entry,
            "Quantity": 5,
            "UnitPrice": 1200,
            "SBQQ__BillingFrequency__c": "Monthly",
            "SBQQ__SubscriptionPricing__c": "Fixed Price",
        },
    )
    org.activate_order(order)
    return org.contract_order(order), line, entry


def test_renewal_creates_the_opportunity_quote_and_order_cpq_does(
    org: OrgSimulator,  # noqa: F811
    sf: Salesforce,  # noqa: F811
) -> None:
    contract, line, entry = _contracted(org)
    upsell = org.amend_contract(contract, date(2026, 10, 1), [AmendmentLine(2, revises=line)])
    org.activate_order(upsell)

    renewal = org.renew_contract(contract)

    order = sf.query(
        "SELECT Type, Status, ContractId, EffectiveDate, SBQQ__Quote__r.SBQQ__Type__c, "
        "SBQQ__Quote__r.SBQQ__StartDate__c, SBQQ__Quote__r.SBQQ__SubscriptionTerm__c, "
        "SBQQ__Quote__r.SBQQ__PaymentTerm__c, Opportunity.Type, "
        f"Opportunity.SBQQ__RenewedContract__c FROM Order WHERE Id = '{renewal}'"
    )["records"][0]
    assert (order["Type"], order["Status"], order["ContractId"]) == ("Renewal", "Draft", None)
    assert order["EffectiveDate"] == "2027-04-01"  # the day after the contract's last day
    quote = order["SBQQ__Quote__r"]
    assert quote["SBQQ__Type__c"] == "Renewal"
    assert (quote["SBQQ__StartDate__c"], quote["SBQQ__SubscriptionTerm__c"]) == ("2027-04-01", 12)
    assert quote["SBQQ__PaymentTerm__c"] == "Net 30"
    assert order["Opportunity"]["Type"] == "Renewal"
    assert order["Opportunity"]["SBQQ__RenewedContract__c"] == contract
    lines = sf.query(
        f"SELECT PricebookEntryId, Quantity, UnitPrice FROM OrderItem WHERE OrderId = '{renewal}'"
    )["records"]
    # The live quantity (5 + 2 by amendment) at the subscription's full-term price.
    assert [(r["PricebookEntryId"], r["Quantity"], r["UnitPrice"]) for r in lines] == [
        (entry, 7.0, 1200.0)
    ]


def test_contracting_the_renewal_order_starts_a_new_contract(
    org: OrgSimulator,  # noqa: F811
    sf: Salesforce,  # noqa: F811
) -> None:
    contract, _, _ = _contracted(org)
    renewal = org.renew_contract(contract)
    org.activate_order(renewal)
    new_contract = org.contract_order(renewal)
    assert new_contract != contract
    record = sf.Contract.get(new_contract)
    assert record["SBQQ__Order__c"] == renewal
    assert (record["StartDate"], record["EndDate"]) == ("2027-04-01", "2028-03-31")
    assert sf.Contract.get(contract)["SBQQ__RenewalQuoted__c"] is True


def test_the_apex_rest_resource_renews_a_contract_as_cpq_does(
    org: OrgSimulator,  # noqa: F811
    sf: Salesforce,  # noqa: F811
) -> None:
    """What the demo uses from another process: the same renewal as ``renew_contract``."""
    contract, _, entry = _contracted(org)
    used = org.api_usage.used
    renewal = sf.apexecute(f"cpqsync/contracts/{contract}/renewals", method="POST")["orderId"]
    assert org.api_usage.used == used + 1  # an Apex REST call counts like any API call
    order = sf.query(
        "SELECT Type, Status, EffectiveDate, SBQQ__Quote__r.SBQQ__Type__c, "
        "Opportunity.SBQQ__RenewedContract__c, (SELECT PricebookEntryId, Quantity FROM OrderItems) "
        f"FROM Order WHERE Id = '{renewal}'"
    )["records"][0]
    assert (order["Type"], order["Status"], order["EffectiveDate"]) == (
        "Renewal",
        "Draft",
        "2027-04-01",
    )
    assert order["SBQQ__Quote__r"]["SBQQ__Type__c"] == "Renewal"
    assert order["Opportunity"]["SBQQ__RenewedContract__c"] == contract
    lines = [(i["PricebookEntryId"], i["Quantity"]) for i in order["OrderItems"]["records"]]
    assert lines == [(entry, 5)]
    assert sf.Contract.get(contract)["SBQQ__RenewalQuoted__c"] is True

    with pytest.raises(SalesforceError) as caught:
        sf.apexecute("cpqsync/contracts/not-an-id/renewals", method="POST")
    content: Any = caught.value.content
    assert content[0]["errorCode"] == "INVALID_ID_FIELD"
