"""What CPQ's buttons do, as store operations: contract an order, amend a contract.

Tests of amendments (spec A1/A2) need orders shaped the way CPQ creates them: a Contract
pointing at the original order, an amendment Opportunity naming the contract, an Amendment quote
whose master contract is it, and a new Draft order of type Amendment whose lines carry the
quantity change (negative to reduce).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from cpqsync_sandbox.org.errors import OrgError
from cpqsync_sandbox.org.store import OrgStore


@dataclass(frozen=True)
class AmendmentLine:
    pricebook_entry_id: str
    quantity_change: float
    unit_price: float
    billing_frequency: str | None = "Monthly"
    billing_type: str | None = "Advance"


def contract_order(store: OrgStore, order_id: str) -> str:
    """Create the Contract for an activated order (CPQ's "Contracted" checkbox); returns its id."""
    with store.transaction():
        order = store.get("Order", order_id)
        if order["Status"] != "Activated":
            raise OrgError(
                "FIELD_INTEGRITY_EXCEPTION", "Only activated orders can be contracted", ["Status"]
            )
        quote = (
            store.get("SBQQ__Quote__c", order["SBQQ__Quote__c"])
            if order.get("SBQQ__Quote__c")
            else {}
        )
        term = int(quote.get("SBQQ__SubscriptionTerm__c") or 12)
        contract = store.create(
            "Contract",
            {
                "AccountId": order["AccountId"],
                "StartDate": quote.get("SBQQ__StartDate__c") or order["EffectiveDate"],
                "ContractTerm": term,
                "SBQQ__Order__c": order_id,
                "SBQQ__Quote__c": order.get("SBQQ__Quote__c"),
                "SBQQ__Opportunity__c": order.get("OpportunityId"),
                "CurrencyIsoCode": order.get("CurrencyIsoCode"),
            },
        )
        store.update("Contract", contract, {"Status": "Activated"})
        store.update("Order", order_id, {"SBQQ__Contracted__c": True, "ContractId": contract})
        return contract


def amend_contract(
    store: OrgStore, contract_id: str, start: date, lines: Sequence[AmendmentLine]
) -> str:
    """Create a Draft amendment order on ``contract_id`` starting ``start``; returns its id."""
    with store.transaction():
        contract = store.get("Contract", contract_id)
        original = store.get("Order", contract["SBQQ__Order__c"])
        original_quote = store.get("SBQQ__Quote__c", original["SBQQ__Quote__c"])
        opportunity = store.create(
            "Opportunity",
            {
                "Name": f"Amendment for contract {contract['ContractNumber']}",
                "AccountId": contract["AccountId"],
                "StageName": "Closed Won",
                "CloseDate": start,
                "Type": "Amendment",
                "SBQQ__AmendedContract__c": contract_id,
                "CurrencyIsoCode": contract.get("CurrencyIsoCode"),
            },
        )
        end = original_quote.get("SBQQ__EndDate__c")
        quote = store.create(
            "SBQQ__Quote__c",
            {
                "SBQQ__Account__c": contract["AccountId"],
                "SBQQ__Opportunity2__c": opportunity,
                "SBQQ__MasterContract__c": contract_id,
                "SBQQ__Type__c": "Amendment",
                "SBQQ__Primary__c": True,
                "SBQQ__Status__c": "Accepted",
                "SBQQ__StartDate__c": start,
                "SBQQ__EndDate__c": end,
                "SBQQ__SubscriptionTerm__c": original_quote.get("SBQQ__SubscriptionTerm__c"),
                "SBQQ__PaymentTerm__c": original_quote.get("SBQQ__PaymentTerm__c"),
                "CurrencyIsoCode": contract.get("CurrencyIsoCode"),
            },
        )
        order = store.create(
            "Order",
            {
                "Name": f"Amendment of {original.get('Name') or original['OrderNumber']}",
                "AccountId": contract["AccountId"],
                "OpportunityId": opportunity,
                "ContractId": contract_id,
                "Pricebook2Id": original.get("Pricebook2Id"),
                "SBQQ__Quote__c": quote,
                "Status": "Draft",
                "EffectiveDate": start,
                "Type": "Amendment",
                "CurrencyIsoCode": contract.get("CurrencyIsoCode"),
            },
        )
        for line in lines:
            store.create(
                "OrderItem",
                {
                    "OrderId": order,
                    "PricebookEntryId": line.pricebook_entry_id,
                    "Quantity": line.quantity_change,
                    "UnitPrice": line.unit_price,
                    "ServiceDate": start,
                    "SBQQ__ChargeType__c": "Recurring",
                    "SBQQ__BillingFrequency__c": line.billing_frequency,
                    "SBQQ__BillingType__c": line.billing_type,
                    "SBQQ__SubscriptionPricing__c": "Fixed Price",
                },
            )
        return order
