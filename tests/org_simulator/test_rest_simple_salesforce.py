"""simple-salesforce, unmodified, against the simulator: what the connector and users run."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from cpqsync_sandbox.org.changes import ChangeBatch
from cpqsync_sandbox.org.simulator import OrgSimulator
from tests.org_simulator.rest_support import org, sf  # noqa: F401


def tag() -> str:
    return uuid.uuid4().hex[:10]


def error_of(exc: Exception) -> dict[str, Any]:
    content = exc.content  # type: ignore[attr-defined]
    assert isinstance(content, list) and len(content) == 1
    first: dict[str, Any] = content[0]
    assert set(first) >= {"message", "errorCode"}
    return first


def collection(sf: Salesforce, method: str, body: dict[str, Any], path: str = "") -> Any:  # noqa: F811
    return sf.restful(f"composite/sobjects{path}", method=method, data=json.dumps(body))


def test_crud_round_trip(sf: Salesforce) -> None:  # noqa: F811
    created = sf.Account.create({"Name": "CRUD Co", "BillingCity": "Lyon", "NumberOfEmployees": 5})
    assert created["success"] and created["id"].startswith("001")
    record = sf.Account.get(created["id"])
    assert record["Name"] == "CRUD Co" and record["BillingAddress"]["city"] == "Lyon"
    assert record["attributes"]["type"] == "Account"
    assert sf.Account.update(created["id"], {"Phone": "+33 1 23 45 67 89"}) == 204
    assert sf.Account.get(created["id"][:15])["Phone"] == "+33 1 23 45 67 89"
    assert sf.Account.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.get(created["id"])


def test_relationship_paths_and_subqueries(org: OrgSimulator, sf: Salesforce) -> None:  # noqa: F811
    name = f"Hydrate {tag()}"
    account = sf.Account.create({"Name": name})["id"]
    book = sf.Pricebook2.create({"Name": f"Book {tag()}", "IsActive": True})["id"]
    product = sf.Product2.create({"Name": "Seat", "SBQQ__BillingFrequency__c": "Monthly"})["id"]
    entry = sf.PricebookEntry.create({"Pricebook2Id": book, "Product2Id": product, "UnitPrice": 9})
    quote = sf.SBQQ__Quote__c.create(
        {
            "SBQQ__Account__c": account,
            "SBQQ__StartDate__c": "2025-03-01",
            "SBQQ__SubscriptionTerm__c": 12,
        }
    )["id"]
    order = sf.Order.create(
        {
            "AccountId": account,
            "Status": "Draft",
            "EffectiveDate": "2025-03-01",
            "SBQQ__Quote__c": quote,
        }
    )["id"]
    for quantity in (2, 3):
        sf.OrderItem.create(
            {
                "OrderId": order,
                "PricebookEntryId": entry["id"],
                "Quantity": quantity,
                "UnitPrice": 9,
            }
        )
    result = sf.query(
        "SELECT Id, Account.Name, SBQQ__Quote__r.SBQQ__StartDate__c, "
        "SBQQ__Quote__r.SBQQ__SubscriptionTerm__c, "
        "(SELECT Quantity, Product2.SBQQ__BillingFrequency__c FROM OrderItems ORDER BY Quantity) "
        f"FROM Order WHERE Id = '{order}'"
    )
    (row,) = result["records"]
    assert row["Account"]["Name"] == name
    assert row["SBQQ__Quote__r"]["SBQQ__StartDate__c"] == "2025-03-01"
    assert row["SBQQ__Quote__r"]["SBQQ__SubscriptionTerm__c"] == 12
    lines = row["OrderItems"]
    assert lines["totalSize"] == 2 and lines["done"] is True
    assert [
        (r["Quantity"], r["Product2"]["SBQQ__BillingFrequency__c"]) for r in lines["records"]
    ] == [
        (2, "Monthly"),
        (3, "Monthly"),
    ]


def test_pagination_over_5000_records(org: OrgSimulator, sf: Salesforce) -> None:  # noqa: F811
    marker = f"Page{tag()}"
    with org.store.transaction():
        for n in range(5000):
            org.store.create("Contact", {"LastName": marker, "FirstName": f"n{n:04d}"})
    org.clear_request_log()
    first = sf.query(
        f"SELECT Id, FirstName FROM Contact WHERE LastName = '{marker}' ORDER BY FirstName"
    )
    assert (first["totalSize"], first["done"], len(first["records"])) == (5000, False, 2000)
    assert first["nextRecordsUrl"].startswith("/services/data/v62.0/query/")
    everything = sf.query_all(
        f"SELECT Id, FirstName FROM Contact WHERE LastName = '{marker}' ORDER BY FirstName"
    )
    names = [r["FirstName"] for r in everything["records"]]
    assert names == [f"n{n:04d}" for n in range(5000)]
    query_calls = [e for e in org.request_log if "/query" in e.path]
    assert len(query_calls) == 1 + 3  # one page above, then 2000 + 2000 + 1000
    more = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert len(more["records"]) == 2000 and more["records"][0]["FirstName"] == "n2000"


def test_query_all_includes_deleted(sf: Salesforce) -> None:  # noqa: F811
    name = f"Deleted {tag()}"
    record = sf.Account.create({"Name": name})["id"]
    sf.Account.delete(record)
    assert sf.query(f"SELECT Id FROM Account WHERE Name = '{name}'")["totalSize"] == 0
    rows = sf.query_all(
        f"SELECT Id, IsDeleted FROM Account WHERE Name = '{name}'", include_deleted=True
    )
    assert [(r["Id"], r["IsDeleted"]) for r in rows["records"]] == [(record, True)]


def test_upsert_by_external_id(sf: Salesforce) -> None:  # noqa: F811
    key = f"801-{tag()}"
    assert (
        sf.Sync_Record__c.upsert(f"Compound_ID__c/{key}", {"Resolution_Status__c": "Error"}) == 201
    )
    assert (
        sf.Sync_Record__c.upsert(f"Compound_ID__c/{key}", {"Resolution_Status__c": "Resolved"})
        == 200
    )
    record = sf.Sync_Record__c.get_by_custom_id("Compound_ID__c", key)
    assert record["Resolution_Status__c"] == "Resolved"
    with pytest.raises(SalesforceResourceNotFound) as err:
        sf.Sync_Record__c.upsert(f"Nope__c/{key}", {"Resolution_Status__c": "Error"})
    assert error_of(err.value)["errorCode"] == "NOT_FOUND"


def test_collections_create_update_upsert_delete(org: OrgSimulator, sf: Salesforce) -> None:  # noqa: F811
    batches: list[ChangeBatch] = []
    org.add_change_listener(batches.append)
    marker = tag()
    created = collection(
        sf,
        "POST",
        {
            "allOrNone": True,
            "records": [
                {"attributes": {"type": "Account"}, "Name": f"{marker}-{n}"} for n in range(3)
            ],
        },
    )
    ids = [r["id"] for r in created]
    assert all(r["success"] for r in created) and len(set(ids)) == 3
    assert len(batches) == 1 and len(batches[0].changes) == 3  # one call, one transaction
    updated = collection(
        sf,
        "PATCH",
        {"records": [{"attributes": {"type": "Account"}, "Id": i, "Phone": "1"} for i in ids]},
    )
    assert [r["id"] for r in updated] == ids
    upserted = collection(
        sf,
        "PATCH",
        {
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Sync_Record__c"}, "Compound_ID__c": f"{marker}-a"},
                {"attributes": {"type": "Sync_Record__c"}, "Compound_ID__c": f"{marker}-b"},
            ],
        },
        "/Sync_Record__c/Compound_ID__c",
    )
    assert [r["created"] for r in upserted] == [True, True]
    deleted = sf.restful("composite/sobjects", method="DELETE", params={"ids": ",".join(ids)})
    assert all(r["success"] for r in deleted)
    assert sf.query(f"SELECT COUNT() FROM Account WHERE Name LIKE '{marker}%'")["totalSize"] == 0


def test_failed_all_or_none_collection_changes_nothing(org: OrgSimulator, sf: Salesforce) -> None:  # noqa: F811
    marker = tag()
    keep = sf.Account.create({"Name": f"{marker}-keep"})["id"]
    batches: list[ChangeBatch] = []
    org.add_change_listener(batches.append)
    results = collection(
        sf,
        "POST",
        {
            "allOrNone": True,
            "records": [
                {"attributes": {"type": "Account"}, "Name": f"{marker}-new"},
                {
                    "attributes": {"type": "Account"},
                    "Name": f"{marker}-bad",
                    "NumberOfEmployees": "x",
                },
            ],
        },
    )
    assert [r["success"] for r in results] == [False, False]
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[0]["id"] is None
    assert results[1]["errors"][0]["statusCode"] == "JSON_PARSER_ERROR"
    update = collection(
        sf,
        "PATCH",
        {
            "allOrNone": True,
            "records": [
                {"attributes": {"type": "Account"}, "Id": keep, "Name": f"{marker}-renamed"},
                {"attributes": {"type": "Account"}, "Id": keep, "Bogus__c": 1},
            ],
        },
    )
    assert update[1]["errors"][0]["statusCode"] == "INVALID_FIELD"
    names = sf.query(f"SELECT Name FROM Account WHERE Name LIKE '{marker}%'")["records"]
    assert [r["Name"] for r in names] == [f"{marker}-keep"]
    assert batches == []  # nothing committed, so no change events either

    partial = collection(
        sf,
        "POST",
        {
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Account"}, "Name": f"{marker}-ok"},
                {"attributes": {"type": "Account"}},
            ],
        },
    )
    assert [r["success"] for r in partial] == [True, False]
    assert partial[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert len(batches) == 1 and [c.record_id for c in batches[0].changes] == [partial[0]["id"]]


def test_collection_limit_is_200(sf: Salesforce) -> None:  # noqa: F811
    records = [{"attributes": {"type": "Account"}, "Name": "x"} for _ in range(201)]
    with pytest.raises(SalesforceMalformedRequest) as err:
        collection(sf, "POST", {"records": records})
    assert error_of(err.value)["errorCode"] == "EXCEEDED_ID_LIMIT"


@pytest.mark.parametrize(
    ("call", "exc_type", "code"),
    [
        (
            lambda c: c.query("SELECT Id FRM Account"),
            SalesforceMalformedRequest,
            "MALFORMED_QUERY",
        ),
        (
            lambda c: c.query("SELECT Bogus FROM Account"),
            SalesforceMalformedRequest,
            "INVALID_FIELD",
        ),
        (
            lambda c: c.Account.create({"Bogus__c": 1}),
            SalesforceMalformedRequest,
            "INVALID_FIELD",
        ),
        (
            lambda c: c.Account.create({"Name": "x", "NumberOfEmployees": "lots"}),
            SalesforceMalformedRequest,
            "JSON_PARSER_ERROR",
        ),
        (
            lambda c: c.Account.create({"Name": "x", "ParentId": "123"}),
            SalesforceMalformedRequest,
            "MALFORMED_ID",
        ),
        (lambda c: c.Account.get("001notanid"), SalesforceResourceNotFound, "NOT_FOUND"),
        (lambda c: c.Account.get("001Dp0000000zzzAAA"), SalesforceResourceNotFound, "NOT_FOUND"),
        (lambda c: c.Bogus__c.describe(), SalesforceResourceNotFound, "NOT_FOUND"),
        (
            lambda c: c.query("SELECT Id FROM Account WHERE CreatedDate = '2020-01-01'"),
            SalesforceMalformedRequest,
            "INVALID_FIELD",
        ),
    ],
)
def test_bad_input_gets_salesforce_error_shape(
    sf: Salesforce,  # noqa: F811
    call: Any,
    exc_type: type[Exception],
    code: str,
) -> None:
    with pytest.raises(exc_type) as err:
        call(sf)
    assert error_of(err.value)["errorCode"] == code


def test_validation_rule_over_rest(org: OrgSimulator, sf: Salesforce) -> None:  # noqa: F811
    rule = org.add_validation_rule(
        "Account", lambda new, old: new["Name"] == "Forbidden", "That name is reserved", ("Name",)
    )
    try:
        with pytest.raises(SalesforceMalformedRequest) as err:
            sf.Account.create({"Name": "Forbidden"})
        assert error_of(err.value) == {
            "message": "That name is reserved",
            "errorCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            "fields": ["Name"],
        }
    finally:
        org.store.remove_validation_rule(rule)


def test_describe_limits_and_request_limit_injection(org: OrgSimulator, sf: Salesforce) -> None:  # noqa: F811
    described = sf.Order.describe()
    fields = {f["name"]: f for f in described["fields"]}
    assert described["keyPrefix"] == "801"
    assert fields["SBQQ__Quote__c"]["referenceTo"] == ["SBQQ__Quote__c"]
    assert fields["SBQQ__Quote__c"]["relationshipName"] == "SBQQ__Quote__r"
    assert fields["BillingAddress"]["type"] == "address"
    assert fields["BillingCity"]["compoundFieldName"] == "BillingAddress"
    assert {
        "childSObject": "OrderItem",
        "field": "OrderId",
        "relationshipName": "OrderItems",
        "cascadeDelete": True,
    } in described["childRelationships"]
    assert "SBQQ__Quote__c" in [o["name"] for o in sf.describe()["sobjects"]]
    limits = sf.limits()
    assert limits["DailyApiRequests"]["Max"] == org.api_usage.daily_limit
    sf.query("SELECT Id FROM Account LIMIT 1")
    assert sf.api_usage["api-usage"].used == org.api_usage.used  # from Sforce-Limit-Info
    org.api_usage.fail_next(2)
    for _ in range(2):
        with pytest.raises(SalesforceRefusedRequest) as err:
            sf.query("SELECT Id FROM Account LIMIT 1")
        assert error_of(err.value)["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert sf.query("SELECT Id FROM Account LIMIT 1")["done"] is True


def test_request_log_counts_api_calls(org: OrgSimulator, sf: Salesforce) -> None:  # noqa: F811
    org.clear_request_log()
    record = sf.Account.create({"Name": f"Logged {tag()}"})["id"]
    sf.Account.update(record, {"Phone": "2"})
    with pytest.raises(SalesforceMalformedRequest):
        sf.query("SELECT Nope FROM Account")
    log = [(e.method, e.path.split("/v62.0/")[1], e.status) for e in org.request_log]
    assert log == [
        ("POST", "sobjects/Account/", 201),
        ("PATCH", f"sobjects/Account/{record}", 204),
        ("GET", "query/", 400),
    ]
