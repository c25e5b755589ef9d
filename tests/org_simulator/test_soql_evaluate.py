"""evaluate(): SOQL semantics on REST-shaped records, refusing what it cannot decide."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from cpqsync.soql import SoqlEvaluationError, evaluate, parse_where

NOW = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)

ORDER: dict[str, Any] = {
    "attributes": {"type": "Order", "url": "/services/data/v62.0/sobjects/Order/801x"},
    "Id": "801000000000001AAA",
    "Status": "Activated",
    "Name": "Acme 50% deal",
    "EffectiveDate": "2025-03-10",
    "ActivatedDate": "2025-03-14T09:30:00.000+0000",
    "Skip_Past_Initial_Invoices__c": False,
    "Quantity__c": 3.0,
    "Description": None,
    "Account": {"attributes": {"type": "Account"}, "Name": "Acme Corp", "Type": "Customer"},
    "SBQQ__Quote__r": None,
}


def check(where: str, record: dict[str, Any] = ORDER) -> bool:
    return evaluate(parse_where(where), record, now=NOW)


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Status = 'Activated'", True),
        ("status = 'activated'", True),  # SOQL text comparison ignores case
        ("Status != 'Activated'", False),
        ("Account.Name = 'Acme Corp'", True),
        ("Account.Type IN ('Partner', 'Customer')", True),
        ("Account.Type NOT IN ('Partner', 'Customer')", False),
        ("SBQQ__Quote__r.SBQQ__StartDate__c = null", True),  # null parent -> null field
        ("Description = null", True),
        ("Description != 'x'", True),  # null is != any value, as in SOQL
        ("Description LIKE '%'", False),
        ("Name LIKE 'acme%'", True),
        ("Name LIKE '%50\\% deal'", True),
        ("Name LIKE '%50\\_ deal'", False),
        ("Quantity__c > 2 AND Quantity__c <= 3", True),
        ("Quantity__c IN (1, 3)", True),
        ("Skip_Past_Initial_Invoices__c = false", True),
        ("EffectiveDate < 2025-03-11", True),
        ("EffectiveDate >= 2025-03-11", False),
        ("ActivatedDate > 2025-03-14T09:00:00Z", True),
        ("ActivatedDate = YESTERDAY", True),
        ("ActivatedDate = TODAY", False),
        ("EffectiveDate = LAST_N_DAYS:5", True),
        ("EffectiveDate = LAST_N_DAYS:4", False),
        ("EffectiveDate < LAST_N_DAYS:4", True),
        ("EffectiveDate < TOMORROW", True),
        ("EffectiveDate > NEXT_N_DAYS:3", False),
        ("NOT (Status = 'Draft' OR Status = 'Cancelled')", True),
        ("(Status = 'Draft' OR Account.Name = 'Acme Corp') AND Quantity__c = 3", True),
    ],
)
def test_semantics(where: str, expected: bool) -> None:
    assert check(where) is expected


def test_python_typed_records_work_too() -> None:
    record = {"EffectiveDate": date(2025, 3, 10), "CreatedDate": datetime(2025, 3, 1, tzinfo=UTC)}
    assert check("EffectiveDate = 2025-03-10 AND CreatedDate < LAST_N_DAYS:7", record)


@pytest.mark.parametrize(
    "where",
    [
        "Unknown__c = 'x'",  # a field the record does not carry is not silently null
        "Status = true",  # boolean literal against text
        "Skip_Past_Initial_Invoices__c = 'false'",  # text literal against boolean
        "EffectiveDate = 2025-03-10T00:00:00Z",  # datetime literal against a date
        "ActivatedDate = 2025-03-14",  # date literal against a datetime
        "Quantity__c > 'abc'",
        "Status.Name = 'x'",  # Status is not a relationship
        "Description > null",
    ],
)
def test_undecidable_conditions_raise_instead_of_guessing(where: str) -> None:
    with pytest.raises(SoqlEvaluationError):
        check(where)
