"""Which records a consumed message asks the sync to look at."""

from __future__ import annotations

import datetime as dt

from consumer.engine import Message
from consumer.sync.triggers import RecordRef, SyncInput, trigger_of
from schemas.models import ChangeEvent, ChangeType, SyncRequest

NOW = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def message(value: SyncInput, attempt: int = 1) -> Message[SyncInput]:
    return Message("t", 0, 7, b"k", value, None, attempt=attempt)


def event(object_type: str, record_id: str, change: ChangeType, **values: object) -> ChangeEvent:
    return ChangeEvent(
        object_type=object_type,
        record_id=record_id,
        change_type=change,
        values={k: ChangeEvent.encode_value(v) for k, v in values.items()},
        commit_timestamp=NOW,
    )


def test_an_order_update_names_its_order_and_keeps_where_it_came_from() -> None:
    trigger = trigger_of(message(event("Order", "801A", ChangeType.UPDATE), attempt=3))
    assert trigger.records == (RecordRef("Order", "801A"),)
    assert not trigger.manual and trigger.commit_timestamp == NOW and trigger.attempt == 3
    assert trigger.source is not None and (trigger.source.topic, trigger.source.offset) == ("t", 7)


def test_an_order_line_names_its_order_when_the_event_carries_it() -> None:
    created = trigger_of(message(event("OrderItem", "802A", ChangeType.CREATE, OrderId="801B")))
    assert created.parent_hints == {RecordRef("OrderItem", "802A"): RecordRef("Order", "801B")}
    updated = trigger_of(message(event("OrderItem", "802A", ChangeType.UPDATE, Quantity=3)))
    assert updated.parent_hints == {}  # resolved with a query instead


def test_gap_events_name_records_and_overflow_asks_for_the_whole_type() -> None:
    gap = trigger_of(message(event("Account", "001A", ChangeType.GAP_UPDATE)))
    assert gap.records == (RecordRef("Account", "001A"),)
    overflow = trigger_of(message(event("Product2", "", ChangeType.GAP_OVERFLOW)))
    assert overflow.records == () and overflow.resync_types == ("Product2",)
    wildcard = trigger_of(message(event("Account", "001*", ChangeType.UPDATE)))
    assert wildcard.resync_types == ("Account",)


def test_deletes_and_unsynced_objects_ask_for_nothing_and_say_why() -> None:
    deleted = trigger_of(message(event("Account", "001A", ChangeType.DELETE)))
    assert deleted.records == () and "not propagated" in (deleted.ignored or "")
    contact = trigger_of(message(event("Contact", "003A", ChangeType.UPDATE)))
    assert contact.records == () and "Contact" in (contact.ignored or "")


def test_a_sync_request_is_manual_and_carries_its_request_id() -> None:
    request = SyncRequest(
        request_id="r1", object_type="Order", record_id="801A", requested_by="ops"
    )
    trigger = trigger_of(message(request))
    assert trigger.manual and trigger.request_id == "r1"
    assert trigger.records == (RecordRef("Order", "801A"),)


def test_the_echo_of_our_own_writeback_asks_for_nothing() -> None:
    # Writing Stripe ids back is itself a change event; re-syncing it doubled Stripe traffic.
    echo = event("Order", "801A", ChangeType.UPDATE)
    echo = echo.model_copy(
        update={"changed_fields": ["Stripe_ID__c", "Stripe_Dashboard_Link__c", "LastModifiedDate"]}
    )
    assert trigger_of(message(echo)).records == ()
    assert "writeback" in (trigger_of(message(echo)).ignored or "")
    real = echo.model_copy(update={"changed_fields": ["Stripe_ID__c", "Status"]})
    assert trigger_of(message(real)).records == (RecordRef("Order", "801A"),)
    created = event("Order", "801A", ChangeType.CREATE)  # CREATE lists no changed fields
    assert trigger_of(message(created)).records == (RecordRef("Order", "801A"),)


def test_the_echo_of_the_billing_writeback_asks_for_nothing() -> None:
    # Billing state from Stripe (B1) lands in Stripe_…__c fields only; re-syncing the order
    # for it would send Stripe's own state back to Stripe.
    echo = event("Order", "801A", ChangeType.UPDATE).model_copy(
        update={
            "changed_fields": [
                "Stripe_Subscription_Status__c",
                "Stripe_Latest_Invoice_Status__c",
                "SystemModstamp",
            ]
        }
    )
    assert trigger_of(message(echo)).records == ()
    mixed = echo.model_copy(update={"changed_fields": ["Stripe_Last_Payment_Date__c", "Status"]})
    assert trigger_of(message(mixed)).records == (RecordRef("Order", "801A"),)
