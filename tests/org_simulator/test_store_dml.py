"""The org store: ids, DML semantics, validation, transactions and change notifications."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from cpqsync_sandbox.org.changes import ChangeBatch
from cpqsync_sandbox.org.errors import OrgError
from cpqsync_sandbox.org.ids import IdFactory, normalize_id, to_18
from cpqsync_sandbox.org.store import OrgStore
from tests.org_simulator.rest_support import new_store


def test_ids_use_real_key_prefixes_and_a_valid_case_safe_suffix() -> None:
    # Salesforce's documented example: 0015000000Gv7qJ -> 0015000000Gv7qJAAR
    assert to_18("0015000000Gv7qJ") == "0015000000Gv7qJAAR"
    store = new_store()
    account = store.create("Account", {"Name": "Acme"})
    product = store.create("Product2", {"Name": "Widget"})
    quote = store.create("SBQQ__Quote__c", {})
    assert (account[:3], product[:3], quote[:2]) == ("001", "01t", "a0")
    assert len(account) == 18 and to_18(account[:15]) == account
    # 15-character and case-mangled 18-character forms name the same record
    assert store.get("Account", account[:15])["Id"] == account
    assert normalize_id(account.lower()) == account
    assert normalize_id("001xyz") is None


def test_create_maintains_system_fields_and_types() -> None:
    store = new_store()
    before = datetime.now(UTC)
    record_id = store.create(
        "Account",
        {"Name": "Acme", "NumberOfEmployees": "42", "AnnualRevenue": 1_000_000, "BillingCity": ""},
    )
    rec = store.get("Account", record_id)
    assert rec["CreatedDate"] >= before.replace(microsecond=0)
    assert rec["CreatedDate"] == rec["LastModifiedDate"] == rec["SystemModstamp"]
    assert rec["CreatedById"] == rec["LastModifiedById"] == store.user_id == rec["OwnerId"]
    assert rec["IsDeleted"] is False
    assert rec["NumberOfEmployees"] == 42 and rec["AnnualRevenue"] == 1_000_000.0
    assert rec["BillingCity"] is None  # empty text is stored as null, as in a real org


@pytest.mark.parametrize(
    ("values", "code", "field"),
    [
        ({"Name": "A", "Bogus__c": 1}, "INVALID_FIELD", "Bogus__c"),
        ({"Name": "A", "NumberOfEmployees": "many"}, "JSON_PARSER_ERROR", "NumberOfEmployees"),
        ({"Name": "A", "NumberOfEmployees": 1.5}, "JSON_PARSER_ERROR", "NumberOfEmployees"),
        (
            {"Name": "A", "CurrencyIsoCode": "XXX"},
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            "CurrencyIsoCode",
        ),
        ({"Name": "x" * 256}, "STRING_TOO_LONG", "Name"),
        ({"Name": "A", "ParentId": "not-an-id"}, "MALFORMED_ID", "ParentId"),
        ({"Name": "A", "ParentId": "003Dp0000000001AAA"}, "FIELD_INTEGRITY_EXCEPTION", "ParentId"),
        (
            {"Name": "A", "ParentId": "001Dp0000000zzzAAA"},
            "INVALID_CROSS_REFERENCE_KEY",
            "ParentId",
        ),
        (
            {"Name": "A", "CreatedDate": "2020-01-01T00:00:00Z"},
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            "CreatedDate",
        ),
        (
            {"Name": "A", "BillingAddress": {"city": "Paris"}},
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            "BillingAddress",
        ),
        ({"Phone": "1"}, "REQUIRED_FIELD_MISSING", "Name"),
    ],
)
def test_bad_values_fail_with_salesforce_codes_naming_the_field(
    values: dict[str, object], code: str, field: str
) -> None:
    store = new_store()
    with pytest.raises(OrgError) as err:
        store.create("Account", values)
    assert err.value.error_code == code
    assert err.value.fields == [field]
    assert store.count("Account") == 0


def test_unique_external_id_rejects_duplicates_case_insensitively() -> None:
    store = new_store()
    first = store.create("Sync_Record__c", {"Compound_ID__c": "801A-802B"})
    with pytest.raises(OrgError) as err:
        store.create("Sync_Record__c", {"Compound_ID__c": "801a-802b"})
    assert err.value.error_code == "DUPLICATE_VALUE"
    assert first in err.value.message


def test_upsert_by_external_id_creates_then_updates() -> None:
    store = new_store()
    record_id, created = store.upsert(
        "Sync_Record__c", "Compound_ID__c", "801A", {"Resolution_Status__c": "Error"}
    )
    again, created_again = store.upsert(
        "Sync_Record__c", "Compound_ID__c", "801A", {"Resolution_Status__c": "Resolved"}
    )
    assert (created, created_again, again) == (True, False, record_id)
    assert store.get("Sync_Record__c", record_id)["Resolution_Status__c"] == "Resolved"
    store.create("Account", {"Name": "One", "Stripe_ID__c": "cus_1"})
    store.create("Account", {"Name": "Two", "Stripe_ID__c": "cus_1"})
    with pytest.raises(OrgError) as err:
        store.upsert("Account", "Stripe_ID__c", "cus_1", {"Name": "Three"})
    assert (err.value.error_code, err.value.status) == ("MULTIPLE_CHOICES", 300)


def test_validation_rule_rejects_with_custom_validation_exception() -> None:
    store = new_store()
    store.add_validation_rule(
        "Account",
        lambda new, old: new.get("Phone") is None and new["Name"].startswith("Strict"),
        "Strict accounts need a phone number",
        ("Phone",),
    )
    store.create("Account", {"Name": "Relaxed"})
    with pytest.raises(OrgError) as err:
        store.create("Account", {"Name": "Strict Co"})
    assert err.value.error_code == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    assert err.value.message == "Strict accounts need a phone number"
    assert err.value.fields == ["Phone"]


def _order_fixture() -> tuple[OrgStore, str, str]:
    store = new_store()
    account = store.create("Account", {"Name": "Acme"})
    pricebook = store.create("Pricebook2", {"Name": "Std", "IsActive": True})
    product = store.create("Product2", {"Name": "Widget"})
    entry = store.create(
        "PricebookEntry", {"Pricebook2Id": pricebook, "Product2Id": product, "UnitPrice": 10}
    )
    order = store.create(
        "Order", {"AccountId": account, "Status": "Draft", "EffectiveDate": "2025-01-01"}
    )
    item = store.create(
        "OrderItem", {"OrderId": order, "PricebookEntryId": entry, "Quantity": 3, "UnitPrice": 7}
    )
    return store, order, item


def test_order_activation_sets_activated_date_and_items_derive_fields() -> None:
    store, order, item = _order_fixture()
    line = store.get("OrderItem", item)
    assert line["Product2Id"].startswith("01t") and line["TotalPrice"] == 21.0
    assert store.get("Order", order)["ActivatedDate"] is None
    store.activate_order(order)
    activated = store.get("Order", order)
    assert activated["Status"] == "Activated"
    assert activated["ActivatedDate"] == activated["LastModifiedDate"]
    assert activated["ActivatedById"] == store.user_id


def test_delete_cascades_master_detail_and_refuses_required_lookups() -> None:
    store, order, item = _order_fixture()
    account = store.get("Order", order)["AccountId"]
    with pytest.raises(OrgError) as err:
        store.delete("Account", account)
    assert err.value.error_code == "DELETE_FAILED"
    store.delete("Order", order)
    with pytest.raises(OrgError):
        store.get("OrderItem", item)
    assert store.get("OrderItem", item, include_deleted=True)["IsDeleted"] is True
    store.undelete("Order", order)
    assert store.get("Order", order)["IsDeleted"] is False


def test_listeners_get_one_batch_per_transaction_with_changed_and_nulled_fields() -> None:
    store = new_store()
    batches: list[ChangeBatch] = []
    store.add_change_listener(batches.append)
    account = store.create(
        "Account", {"Name": "Acme", "Phone": "1", "BillingCity": "Paris", "Industry": "Retail"}
    )
    store.update(
        "Account",
        account,
        {"Name": "Acme 2", "Phone": None, "BillingCity": "Lyon", "Industry": "Retail"},
    )
    create, update = batches[-2].changes[0], batches[-1].changes[0]
    assert create.change_type == "CREATE" and {"Name", "BillingCity"} <= set(create.changed_fields)
    assert update.change_type == "UPDATE"
    # schema order, like the positions of a change event's bitmap
    assert update.changed_fields == ["Name", "BillingCity", "Phone", "LastModifiedDate"]
    assert update.nulled_fields == ["Phone"]
    assert update.old_values is not None and update.old_values["BillingCity"] == "Paris"
    assert update.new_values["BillingCity"] == "Lyon"
    assert update.commit_user == store.user_id
    assert batches[-1].commit_number > batches[-2].commit_number
    assert batches[-1].transaction_key != batches[-2].transaction_key

    with store.transaction():
        first = store.create("Account", {"Name": "A"})
        second = store.create("Account", {"Name": "B"})
    changes = batches[-1].changes
    assert [c.record_id for c in changes] == [first, second]
    assert [c.sequence_number for c in changes] == [1, 2]
    assert {c.transaction_key for c in changes} == {batches[-1].transaction_key}


def test_failed_transaction_changes_nothing_and_notifies_nobody() -> None:
    store = new_store()
    batches: list[ChangeBatch] = []
    existing = store.create("Account", {"Name": "Keep"})
    store.add_change_listener(batches.append)
    with pytest.raises(OrgError), store.transaction():
        store.create("Account", {"Name": "Gone", "Stripe_ID__c": "cus_9"})
        store.update("Account", existing, {"Name": "Changed"})
        store.create("Account", {"Name": None})
    assert batches == []
    assert store.count("Account") == 1
    assert store.get("Account", existing)["Name"] == "Keep"
    assert store.ids_by_external_id("Account", "Stripe_ID__c", "cus_9") == []


def test_date_and_datetime_values_are_coerced_to_python_types() -> None:
    store = new_store()
    quote = store.create(
        "SBQQ__Quote__c",
        {"SBQQ__StartDate__c": "2025-02-01", "SBQQ__ExpirationDate__c": date(2025, 3, 1)},
    )
    rec = store.get("SBQQ__Quote__c", quote)
    assert rec["SBQQ__StartDate__c"] == date(2025, 2, 1)
    assert rec["Name"].startswith("Q-")
    with pytest.raises(OrgError) as err:
        store.update("SBQQ__Quote__c", quote, {"SBQQ__StartDate__c": "2025-13-01"})
    assert err.value.error_code == "JSON_PARSER_ERROR"


def test_id_factory_is_monotonic_so_ids_sort_in_creation_order() -> None:
    factory = IdFactory()
    ids = [factory.new_id("801") for _ in range(500)]
    assert ids == sorted(ids)
