"""What CPQ does to renew a contract, as a store operation (spec A3).

CPQ's shapes: renewing a contract (``Renewal Quoted`` on it, or the renewal job) creates a
renewal Opportunity (``Type = Renewal``, ``SBQQ__RenewedContract__c`` = the contract), a primary
quote of ``SBQQ__Type__c = Renewal`` starting the day after the contract's last day for the
contract's renewal term (``SBQQ__RenewalTerm__c``, else its term), and, once ordered, a Draft
order of ``Type = Renewal`` with one line per subscription still live on the contract (its
current quantity at its full-term price). The renewal order has no ``ContractId``: contracting
it (``SBQQ__Contracted__c``) creates the NEW contract it starts.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cpqsync_sandbox.org.cpq_actions import contract_end, follow_on_deal, live_quantities
from cpqsync_sandbox.org.errors import OrgError
from cpqsync_sandbox.org.store import OrgStore

_COPIED = (
    "PricebookEntryId",
    "SBQQ__BillingFrequency__c",
    "SBQQ__BillingType__c",
    "SBQQ__ChargeType__c",
    "SBQQ__SubscriptionPricing__c",
    "SBQQ__SubscriptionType__c",
)


def renew_contract(store: OrgStore, contract_id: str) -> str:
    """Create the Draft renewal order of ``contract_id`` (with opportunity and quote); its id."""
    with store.transaction():
        contract = store.get("Contract", contract_id)
        if contract["Status"] != "Activated":
            raise OrgError(
                "FIELD_CUSTOM_VALIDATION_EXCEPTION", "Only activated contracts can be renewed"
            )
        original = store.get("Order", contract["SBQQ__Order__c"])
        original_quote = store.get("SBQQ__Quote__c", original["SBQQ__Quote__c"])
        start = contract["EndDate"] + timedelta(days=1)
        term = int(contract.get("SBQQ__RenewalTerm__c") or contract["ContractTerm"])
        end = contract_end(start, term)
        opportunity, quote = follow_on_deal(
            store,
            contract,
            original_quote,
            "Renewal",
            start=start,
            end=end,
            term=term,
            links={"Opportunity": {"SBQQ__RenewedContract__c": contract_id}},
        )
        store.update("Contract", contract_id, {"SBQQ__RenewalQuoted__c": True})
        order = store.create(
            "Order",
            {
                "Name": f"Renewal of {original.get('Name') or original['OrderNumber']}",
                "AccountId": contract["AccountId"],
                "OpportunityId": opportunity,
                "Pricebook2Id": original.get("Pricebook2Id"),
                "SBQQ__Quote__c": quote,
                "Status": "Draft",
                "EffectiveDate": start,
                "EndDate": end,
                "Type": "Renewal",
                "CurrencyIsoCode": contract.get("CurrencyIsoCode"),
            },
        )
        for line_id, quantity in sorted(live_quantities(store, contract_id).items()):
            sold = store.get("OrderItem", line_id)
            values: dict[str, Any] = {k: sold.get(k) for k in _COPIED if sold.get(k) is not None}
            # The subscription's full-term price (an amendment line holds it prorated).
            full_price = sold["UnitPrice"] / (sold.get("SBQQ__ProrateMultiplier__c") or 1.0)
            values.update(
                OrderId=order,
                Quantity=quantity,
                UnitPrice=round(full_price, 2),
                ServiceDate=start,
                EndDate=end,
            )
            store.create("OrderItem", values)
        return order
