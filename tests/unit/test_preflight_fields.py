"""Which Salesforce fields the preflight asks a describe about, and what it says when the org
lacks one (the describe itself is faked at our own seam; the org simulator answers it in
tests/integration/test_preflight.py)."""

from __future__ import annotations

from typing import Any

from cpqsync.app.preflight.field_references import (
    FieldReference,
    field_references,
    sync_record_references,
)
from cpqsync.app.preflight.salesforce_check import _missing
from cpqsync.settings import Settings

ORG: dict[str, dict[str, Any]] = {
    "order": {
        "fields": [
            {"name": "Status"},
            {"name": "AccountId", "relationshipName": "Account", "referenceTo": ["Account"]},
        ]
    },
    "account": {
        "fields": [
            {"name": "Name"},
            {"name": "OwnerId", "relationshipName": "Owner", "referenceTo": ["User"]},
        ]
    },
    "user": {"fields": [{"name": "Email"}]},
}


def describe(sobject: str) -> dict[str, Any] | None:
    return ORG.get(sobject.lower())


def test_filters_and_mappings_name_their_fields_with_the_setting() -> None:
    settings = Settings(
        sync={
            "filters": {
                "Order": "Status = 'Activated' AND (Account.Name LIKE 'A%' OR NOT Type = 'x')"
            }
        },
        mappings={"customer": {"custom": {"email": "Account.Owner.Email"}}},
    )
    assert [(r.setting, r.text) for r in field_references(settings)] == [
        ("sync.filters.Order", "Order.Status"),
        ("sync.filters.Order", "Order.Account.Name"),
        ("sync.filters.Order", "Order.Type"),
        ("mappings.customer.custom.email", "Account.Owner.Email"),
    ]


def test_a_walk_through_lookups_finds_what_exists_and_names_what_does_not() -> None:
    ok = FieldReference("mappings.customer.custom.email", "Account", ("Owner", "Email"))
    assert _missing(ok, describe) is None
    assert _missing(FieldReference("sync.filters.Order", "Order", ("Type",)), describe) == (
        "sync.filters.Order names Order.Type: Order has no field Type"
    )
    assert _missing(FieldReference("x", "Order", ("Acount", "Name")), describe) == (
        "x names Order.Acount.Name: Order has no lookup relationship Acount"
    )
    (first, *_) = sync_record_references(Settings())
    assert _missing(first, describe) == (
        "the writeback writes Sync_Record__c.Compound_ID__c: the org has no object Sync_Record__c"
    )
