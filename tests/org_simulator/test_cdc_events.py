"""From committed transactions to change events: bodies, headers, grouping, gap events."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from cpqsync_sandbox.org.cdc.publisher import ChangePublisher
from cpqsync_sandbox.org.pubsub.bus import EventBus
from cpqsync_sandbox.org.schema import OBJECTS
from tests.org_simulator.cdc_support import USER_ID, Txn, account_id, decode


@pytest.fixture
def org() -> tuple[EventBus, ChangePublisher]:
    bus = EventBus()
    return bus, ChangePublisher(bus, OBJECTS)


def published(bus: EventBus, channel: str) -> list[dict[str, Any]]:
    out = []
    for event in bus.events_after(channel, 0, 1000):
        record = decode(bus.schemas.by_id(event.schema_id).schema_json, event.payload)
        out.append(record)
    return out


def test_create_carries_the_whole_record_with_converted_values(org: Any) -> None:
    bus, publisher = org
    when = dt.datetime(2025, 3, 1, 12, 30, tzinfo=dt.UTC)
    txn = Txn(commit_number=42, when=when).add(
        "Opportunity",
        "CREATE",
        "006000000000001AAA",
        {
            "Name": "Big deal",
            "StageName": "Prospecting",
            "CloseDate": dt.date(2025, 6, 30),
            "Amount": 1250.5,
            "CreatedDate": when,
        },
    )
    publisher.on_change(txn.batch())
    (record,) = published(bus, "/data/OpportunityChangeEvent")
    header = record["ChangeEventHeader"]
    assert header["entityName"] == "Opportunity"
    assert header["recordIds"] == ["006000000000001AAA"]
    assert header["changeType"] == "CREATE"
    assert header["transactionKey"] == txn.transaction_key
    assert header["sequenceNumber"] == 1
    assert header["commitTimestamp"] == int(when.timestamp() * 1000)
    assert (header["commitNumber"], header["commitUser"]) == (42, USER_ID)
    assert header["changedFields"] == [] and header["nulledFields"] == []
    assert record["CloseDate"] == int(dt.datetime(2025, 6, 30, tzinfo=dt.UTC).timestamp() * 1000)
    assert record["Amount"] == 1250.5 and record["Name"] == "Big deal"
    assert record["CreatedDate"] == int(when.timestamp() * 1000)
    assert record["AccountId"] is None


def test_records_changed_alike_in_one_transaction_share_one_event(org: Any) -> None:
    bus, publisher = org
    txn = Txn()
    for n in (1, 2, 3):
        txn.add("Account", "UPDATE", account_id(n), {"Industry": "Retail"})
    txn.add("Account", "UPDATE", account_id(4), {"Industry": "Finance"})
    publisher.on_change(txn.batch())
    records = published(bus, "/data/AccountChangeEvent")
    headers = [r["ChangeEventHeader"] for r in records]
    assert [h["recordIds"] for h in headers] == [
        [account_id(1), account_id(2), account_id(3)],
        [account_id(4)],
    ]
    assert [h["sequenceNumber"] for h in headers] == [1, 2]
    assert {h["transactionKey"] for h in headers} == {txn.transaction_key}
    assert [r["Industry"] for r in records] == ["Retail", "Finance"]


def test_creates_with_different_values_stay_separate_events(org: Any) -> None:
    bus, publisher = org
    txn = Txn()
    txn.add("Account", "CREATE", account_id(1), {"Name": "One"})
    txn.add("Account", "CREATE", account_id(2), {"Name": "Two"})
    publisher.on_change(txn.batch())
    records = published(bus, "/data/AccountChangeEvent")
    assert [r["ChangeEventHeader"]["recordIds"] for r in records] == [
        [account_id(1)],
        [account_id(2)],
    ]


def test_delete_carries_only_the_header_and_bulk_deletes_group(org: Any) -> None:
    bus, publisher = org
    txn = Txn()
    txn.add("Account", "DELETE", account_id(1), {"Name": "One"}, changed=[])
    txn.add("Account", "DELETE", account_id(2), {"Name": "Two"}, changed=[])
    publisher.on_change(txn.batch())
    (record,) = published(bus, "/data/AccountChangeEvent")
    assert record["ChangeEventHeader"]["changeType"] == "DELETE"
    assert record["ChangeEventHeader"]["recordIds"] == [account_id(1), account_id(2)]
    assert all(v is None for k, v in record.items() if k != "ChangeEventHeader")


def test_undelete_carries_the_whole_record(org: Any) -> None:
    bus, publisher = org
    txn = Txn().add("Account", "UNDELETE", account_id(1), {"Name": "Back", "BillingCity": "Oslo"})
    publisher.on_change(txn.batch())
    (record,) = published(bus, "/data/AccountChangeEvent")
    assert record["ChangeEventHeader"]["changeType"] == "UNDELETE"
    assert record["Name"] == "Back" and record["BillingAddress"]["City"] == "Oslo"


def test_events_reach_the_entity_channel_and_the_all_changes_channel(org: Any) -> None:
    bus, publisher = org
    txn = Txn().add("Account", "CREATE", account_id(1), {"Name": "A"})
    txn.add("Order", "CREATE", "801000000000001AAA", {"Status": "Draft"})
    publisher.on_change(txn.batch())
    all_changes = published(bus, "/data/ChangeEvents")
    assert [r["ChangeEventHeader"]["entityName"] for r in all_changes] == ["Account", "Order"]
    assert [r["ChangeEventHeader"]["sequenceNumber"] for r in all_changes] == [1, 2]
    assert len(published(bus, "/data/OrderChangeEvent")) == 1
    assert len(published(bus, "/data/AccountChangeEvent")) == 1


def test_gap_and_overflow_events_carry_only_the_header(org: Any) -> None:
    bus, _ = org
    bus.emit_gap("Order", ["801000000000001AAA", "801000000000002AAA"], "UPDATE")
    bus.emit_overflow("Order")
    gap, overflow = published(bus, "/data/OrderChangeEvent")
    assert gap["ChangeEventHeader"]["changeType"] == "GAP_UPDATE"
    assert gap["ChangeEventHeader"]["recordIds"] == ["801000000000001AAA", "801000000000002AAA"]
    assert overflow["ChangeEventHeader"]["changeType"] == "GAP_OVERFLOW"
    assert overflow["ChangeEventHeader"]["recordIds"] == []
    for record in (gap, overflow):
        assert all(v is None for k, v in record.items() if k != "ChangeEventHeader")
        assert record["ChangeEventHeader"]["changedFields"] == []
    with pytest.raises(ValueError, match="gap change type"):
        bus.emit_gap("Order", ["801000000000001AAA"], "MERGE")
    with pytest.raises(ValueError, match="names the records"):
        bus.emit_gap("Order", [], "GAP_CREATE")


def test_a_value_of_the_wrong_type_is_reported_with_its_field(org: Any) -> None:
    _, publisher = org
    txn = Txn().add("Account", "UPDATE", account_id(1), {"NumberOfEmployees": "many"})
    with pytest.raises(ValueError, match="NumberOfEmployees"):
        publisher.on_change(txn.batch())
