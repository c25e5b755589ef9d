"""A renewal order is never planned as part of the contract it renews (rule A3), even where an
org puts the renewed contract in the renewal order's ContractId."""

from __future__ import annotations

from typing import Any, cast

import pytest

from consumer.sync.contract_sync import ContractSync
from consumer.sync.hydration import Hydrator
from consumer.sync.stripe_lookup import StripeLookup


class _NoReads:
    """Our own seam: any read of the contract would mean the renewal is treated as its part."""

    def contract_orders(self, contract_id: str) -> list[dict[str, Any]]:
        raise AssertionError(f"read contract {contract_id} for a renewal order")


def _sync() -> ContractSync:
    return ContractSync(cast(Hydrator, _NoReads()), cast(StripeLookup, object()), sandbox=False)


def _order(**fields: Any) -> dict[str, Any]:
    return {
        "Id": "801000000000009AAA",
        "ContractId": "800000000000001AAA",
        "Contract": {"SBQQ__Order__c": "801000000000001AAA"},
        **fields,
    }


def _never(view: Any) -> Any:
    raise AssertionError("no planning context is needed")


def test_a_renewal_order_naming_the_renewed_contract_goes_to_the_order_planner() -> None:
    renewal_quote = {"SBQQ__Type__c": "Renewal"}
    assert _sync().plan(_order(SBQQ__Quote__r=renewal_quote), _never, deep=False) is None
    assert _sync().plan(_order(Type="Renewal"), _never, deep=False) is None


def test_an_amendment_of_the_same_contract_is_read_with_its_contract() -> None:
    amendment = _order(Type="Amendment", SBQQ__Quote__r={"SBQQ__Type__c": "Amendment"})
    with pytest.raises(AssertionError, match="read contract 800000000000001AAA"):
        _sync().plan(amendment, _never, deep=False)
