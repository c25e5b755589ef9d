"""End to end: DML on the org store reaches a plain-grpc subscriber as Salesforce-shaped events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from cpqsync_sandbox.org.store import OrgStore
from tests.org_simulator.cdc_support import (
    METADATA,
    ORG_ID,
    USER_ID,
    Org,
    Subscriber,
    decode,
    running_org,
)
from tests.org_simulator.test_cdc_bitmap import decode_bitmap


@pytest.fixture
def org_and_store() -> Iterator[tuple[Org, OrgStore]]:
    with running_org() as org:
        store = OrgStore(org_id=ORG_ID, user_id=USER_ID)
        store.add_change_listener(org.publisher.on_change)
        yield org, store


def received(org: Org, sub: Subscriber, count: int) -> list[dict[str, Any]]:
    out = []
    for event in sub.events(count):
        info = org.stub.GetSchema(
            org.pb2.SchemaRequest(schema_id=event.event.schema_id), metadata=METADATA
        )
        record = decode(info.schema_json, event.event.payload)
        record["__schema__"] = json.loads(info.schema_json)
        out.append(record)
    return out


def test_store_dml_arrives_as_change_events(org_and_store: tuple[Org, OrgStore]) -> None:
    org, store = org_and_store
    sub = Subscriber(
        org, topic_name="/data/AccountChangeEvent", replay_preset=org.pb2.LATEST, num_requested=50
    )
    try:
        sub.next()
        account = store.create("Account", {"Name": "Acme", "BillingCity": "Paris"})
        store.update(
            "Account",
            account,
            {
                "Name": "Acme SA",
                "Phone": "+33 1",
                "Website": "https://acme.example",
                "BillingCity": "Lyon",
            },
        )
        store.delete("Account", account)
        create, update, delete = received(org, sub, 3)
    finally:
        sub.close()
    assert create["ChangeEventHeader"]["changeType"] == "CREATE"
    assert create["ChangeEventHeader"]["recordIds"] == [account]
    assert create["BillingAddress"]["City"] == "Paris" and create["OwnerId"] == USER_ID
    header = update["ChangeEventHeader"]
    assert decode_bitmap(update["__schema__"], header["changedFields"]) == {
        "Name",
        "Phone",
        "Website",
        "BillingAddress.City",
        "LastModifiedDate",  # a real org lists it on every update
    }
    assert header["commitUser"] == USER_ID and header["commitNumber"] > 0
    assert delete["ChangeEventHeader"]["changeType"] == "DELETE"


def test_a_mass_update_in_one_transaction_is_one_event(
    org_and_store: tuple[Org, OrgStore],
) -> None:
    org, store = org_and_store
    ids = [store.create("Account", {"Name": f"A{n}"}) for n in range(3)]
    sub = Subscriber(
        org, topic_name="/data/AccountChangeEvent", replay_preset=org.pb2.LATEST, num_requested=50
    )
    try:
        sub.next()
        with store.transaction():
            for record_id in ids:
                store.update("Account", record_id, {"Industry": "Retail"})
        (event,) = received(org, sub, 1)
        assert list(sub.next().events) == []
    finally:
        sub.close()
    assert event["ChangeEventHeader"]["recordIds"] == ids
    assert event["Industry"] == "Retail"
