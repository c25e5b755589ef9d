"""Billing roots: which record owns the sync of another, so one member syncs it at a time.

A contract's life in CPQ (its initial order, then amendments) is one Stripe subscription
schedule, so every order of a contract belongs to the contract's root: its initial order
(``Contract.SBQQ__Order__c``). An amendment order names its contract through its Opportunity
(``Opportunity.SBQQ__AmendedContract__c``). An order on no amended contract (new business, a
renewal, which starts a contract of its own: rule A3) is its own root, as are Accounts,
Product2s and PricebookEntries. The root's id is the key of the work on the repartition topic,
so it must be spelled one way whatever spelled the trigger: the 18-character id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from consumer.sync.salesforce_reads import SalesforceReader
from consumer.sync.triggers import RecordRef
from cpqsync.salesforce_ids import normalize_id

# Order -> the initial order of the contract its opportunity amends.
_CONTRACT_ORDER = "Opportunity.SBQQ__AmendedContract__r.SBQQ__Order__c"


def canonical(ref: RecordRef) -> RecordRef:
    """``ref`` with its id in the 18-character form (unchanged when it is not an id)."""
    return RecordRef(ref.object_type, normalize_id(ref.id) or ref.id)


class BillingRoots:
    def __init__(self, reader: SalesforceReader) -> None:
        self._reader = reader

    def of(self, records: Iterable[RecordRef]) -> dict[RecordRef, RecordRef]:
        """The billing root of each record (one query for the orders among them)."""
        wanted = list(dict.fromkeys(records))
        orders = [ref.id for ref in wanted if ref.object_type == "Order"]
        initial: dict[str, RecordRef] = {}
        for row in self._reader.by_ids("Order", [_CONTRACT_ORDER], orders):
            order = canonical(RecordRef("Order", str(row["Id"])))
            contract_order = _amended_contract_order(row)
            root = canonical(RecordRef("Order", contract_order)) if contract_order else order
            initial[order.id[:15]] = root
        # An order the org did not return was deleted since its event: its own root, and the
        # sync reports it as deleted.
        return {ref: initial.get(ref.id[:15]) or canonical(ref) for ref in wanted}


def _amended_contract_order(row: Mapping[str, Any]) -> str | None:
    opportunity = row.get("Opportunity")
    if not isinstance(opportunity, Mapping):
        return None
    contract = opportunity.get("SBQQ__AmendedContract__r")
    if not isinstance(contract, Mapping):
        return None
    order = contract.get("SBQQ__Order__c")
    return str(order) if order else None
