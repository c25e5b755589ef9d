"""Hostile input for a chaos run, and what each piece must end as.

- poison on every topic a consumer reads (bytes no decoder takes, and valid records of a type
  the topic's consumer does not take): each must come out on the dead-letter topic, byte for
  byte, and stop nothing;
- manual sync requests and change events whose record ids carry SOQL-special characters: an
  Error or Skipped result naming that id, and no other record touched (no injection);
- records with every optional field empty, a deleted record's events, 10,000-character
  descriptions and unicode/SOQL-special names: Error Sync Records with the planner's message
  (the consistency checker verifies those) or a correct sync.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from confluent_kafka import Producer

from cpqsync.kafka.topics import Topics
from cpqsync_sandbox.org.simulator import OrgSimulator
from schemas.codec import Codec
from schemas.models import ChangeEvent, ChangeType, SyncRequest, SyncResult, SyncStatus

# Ids a user might paste, or an attacker craft, into `cpqsync sync-order ID`.
HOSTILE_IDS = (
    "801' OR Name != '",
    "001\\' OR Id != \\'",
    "a0B%_' LIMIT 1 --",
    "801Dp0000001abc\u00e9\u65e5",
)
LONG_TEXT = ("Lorem ipsum dolor sit amet, ünïcödé ✓ 'quoted' \\back\\ " * 200)[:10_000]


@dataclass
class BadInput:
    poison: dict[str, list[bytes]] = field(default_factory=dict)  # topic -> payloads
    hostile_ids: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    created_orders: list[str] = field(default_factory=list)


def poison_payloads(tag: str) -> list[bytes]:
    """Bytes no decoder accepts: random, a fake single-object header, truncated Avro, text."""
    marker = tag.encode()
    return [
        b"\x00\xff\xfe" + marker + uuid.uuid4().bytes,
        b"\xc3\x01" + b"\x00" * 8 + marker,  # single-object framing, unknown fingerprint
        b'{"json": "not avro", "tag": "' + marker + b'"}',
    ]


def send_poison(kafka: str, topics: Topics, codec: Codec, bad: BadInput) -> None:
    producer = Producer({"bootstrap.servers": kafka})
    inputs = [*topics.change_topics, topics.sync_requests, topics.sync_results]
    # A valid record of a type the topic's consumer does not take is poison too.
    misplaced_result = codec.encode(_result(), topics.sync_results)
    misplaced_event = codec.encode(_event("Account", "001000000000000AAA"), topics.sync_results)
    for topic in inputs:
        payloads = poison_payloads(f"poison:{topic}")
        payloads.append(misplaced_event if topic == topics.sync_results else misplaced_result)
        bad.poison[topic] = payloads
        for payload in payloads:
            producer.produce(topic, payload, key=b"poison")
    assert producer.flush(30) == 0


def _result() -> SyncResult:
    return SyncResult(
        result_id=uuid.uuid4().hex,
        primary_record_id="801000000000000AAA",
        primary_object_type="Order",
        status=SyncStatus.SUCCESS,
        message="a result where a change event belongs",
        duration_ms=1.0,
    )


def _event(object_type: str, record_id: str) -> ChangeEvent:
    return ChangeEvent(
        object_type=object_type,
        record_id=record_id,
        change_type=ChangeType.UPDATE,
        changed_fields=["Name"],
        values={"Name": "x"},
        commit_timestamp=dt.datetime.now(dt.UTC),
    )


def _request(object_type: str, record_id: str) -> SyncRequest:
    return SyncRequest(
        request_id=uuid.uuid4().hex,
        object_type=object_type,
        record_id=record_id,
        requested_by="chaos",
        reason="hostile id",
    )


def send_hostile_ids(kafka: str, topics: Topics, codec: Codec, bad: BadInput) -> None:
    """Manual requests and change events naming ids built to break out of a SOQL string."""
    producer = Producer({"bootstrap.servers": kafka})
    for record_id in HOSTILE_IDS:
        request = _request("Order", record_id)
        producer.produce(
            topics.sync_requests,
            codec.encode(request, topics.sync_requests),
            key=record_id.encode(),
        )
        event = _event("Account", record_id)
        topic = topics.object_topic("Account")
        producer.produce(topic, codec.encode(event, topic), key=record_id.encode())
        bad.hostile_ids.append(record_id)
    assert producer.flush(30) == 0


def hostile_records(org: OrgSimulator, bad: BadInput) -> None:
    """Orders and records built from the worst data Salesforce lets users save."""
    pricebook = org.dataset.id("standard_pricebook")
    entry = org.dataset.id("training_usd")
    today = dt.datetime.now(dt.UTC).date()

    # Every optional field empty: an order with no quote, and one whose quote is empty.
    bare = org.create("Account", {"Name": "Bare"})
    no_quote = org.create(
        "Order",
        {
            "AccountId": bare,
            "EffectiveDate": today.isoformat(),
            "Status": "Draft",
            "Pricebook2Id": pricebook,
        },
    )
    empty_quote = org.create("SBQQ__Quote__c", {"SBQQ__Account__c": bare})
    empty = org.create(
        "Order",
        {
            "AccountId": bare,
            "EffectiveDate": today.isoformat(),
            "Status": "Draft",
            "Pricebook2Id": pricebook,
            "SBQQ__Quote__c": empty_quote,
        },
    )
    org.create(
        "OrderItem", {"OrderId": empty, "PricebookEntryId": entry, "Quantity": 1, "UnitPrice": 1200}
    )
    # Long and hostile text on a good order: 10,000 characters, quotes, backslashes, unicode.
    tricky = org.create(
        "Account",
        {
            "Name": 'O\'Brien \\\\ "株式会社" 🚀 %_',
            "Description": LONG_TEXT,
            "Phone": "+1 555 0100 ext. '1'",
        },
    )
    quote = org.create(
        "SBQQ__Quote__c",
        {
            "SBQQ__Account__c": tricky,
            "SBQQ__Primary__c": True,
            "SBQQ__Status__c": "Accepted",
            "SBQQ__StartDate__c": (today + dt.timedelta(days=10)).isoformat(),
            "SBQQ__SubscriptionTerm__c": 12,
        },
    )
    long_order = org.create(
        "Order",
        {
            "AccountId": tricky,
            "EffectiveDate": today.isoformat(),
            "Status": "Draft",
            "Pricebook2Id": pricebook,
            "SBQQ__Quote__c": quote,
            "Description": LONG_TEXT,
            "Name": "Order 'with' \\quotes\\ and ünïcode",
        },
    )
    org.create(
        "OrderItem",
        {
            "OrderId": long_order,
            "PricebookEntryId": entry,
            "Quantity": 2,
            "UnitPrice": 1200,
            "SBQQ__ChargeType__c": "One-Time",
            "Description": LONG_TEXT[:255],  # OrderItem.Description holds 255
        },
    )
    for order in (no_quote, empty, long_order):
        org.activate_order(order)
    bad.created_orders += [no_quote, empty, long_order]

    # Events for deleted records: an account changed then deleted, an order activated then
    # deleted before the sync can read it.
    doomed = org.create("Account", {"Name": "Doomed"})
    org.update("Account", doomed, {"Name": "Doomed, renamed"})
    org.delete("Account", doomed)
    gone_quote = org.create(
        "SBQQ__Quote__c",
        {
            "SBQQ__Account__c": bare,
            "SBQQ__StartDate__c": today.isoformat(),
            "SBQQ__SubscriptionTerm__c": 12,
        },
    )
    gone = org.create(
        "Order",
        {
            "AccountId": bare,
            "EffectiveDate": today.isoformat(),
            "Status": "Draft",
            "Pricebook2Id": pricebook,
            "SBQQ__Quote__c": gone_quote,
        },
    )
    org.activate_order(gone)
    org.delete("Order", gone)
    bad.deleted += [doomed, gone]
