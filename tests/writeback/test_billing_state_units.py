"""Billing state (B1) without I/O: which objects an event refreshes, the values a record
gets, and the reverse_mappings checks that fail at load."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, cast

import pytest
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from consumer.billing.billing_view import field_values
from consumer.billing.targets import Refresh, refresh_for
from consumer.dead_letter_envelope import envelope_headers
from consumer.engine import DeadLetters, Message, Processed
from consumer.sync.root_asks import RootWorkOutputs
from consumer.writeback.billing_freshness import Freshness
from consumer.writeback.billing_handler import BillingStateHandler
from consumer.writeback.billing_reads import BillingReader
from consumer.writeback.sobject_collections import SObjectCollections
from cpqsync.mapping.reverse_mappings import ReverseMappings
from cpqsync.settings import load_settings
from schemas.codec import Codec
from schemas.models import RootWork, StripeEvent

FEB_1 = 1_769_904_000  # 2026-02-01T00:00:00Z


def _event(event_type: str, obj: dict[str, object]) -> dict[str, object]:
    return {"id": "evt_1", "type": event_type, "data": {"object": obj}}


def test_each_event_refreshes_the_objects_it_names() -> None:
    invoice = {
        "object": "invoice",
        "id": "in_1",
        "customer": "cus_1",
        "parent": {"subscription_details": {"subscription": "sub_1"}},
    }
    assert refresh_for(_event("invoice.paid", invoice)) == Refresh("sub_1", "in_1", "cus_1")
    one_time = {**invoice, "parent": None}
    assert refresh_for(_event("invoice.finalized", one_time)) == Refresh(None, "in_1", "cus_1")
    schedule = {"object": "subscription_schedule", "id": "ss", "subscription": None,
                "released_subscription": "sub_2", "customer": "cus_1"}  # fmt: skip
    assert refresh_for(_event("subscription_schedule.released", schedule)) == Refresh(
        "sub_2", None, "cus_1"
    )
    charge = {"object": "charge", "id": "ch_1", "invoice": "in_9", "customer": "cus_1"}
    assert refresh_for(_event("charge.refunded", charge)) == Refresh(None, "in_9", "cus_1")
    assert refresh_for(_event("product.updated", {"object": "product", "id": "p"})) is None


def test_an_order_shows_its_subscription_and_latest_invoice() -> None:
    paths = ReverseMappings().paths("Order")
    subscription = {
        "status": "past_due",
        "cancel_at": None,
        "items": {"data": [{"current_period_end": FEB_1}]},
    }
    invoice = {
        "number": "ABC-0002",
        "status": "open",
        "currency": "jpy",
        "amount_due": 12000,
        "amount_paid": 0,
        "hosted_invoice_url": "https://pay/in_1",
        "attempted": True,
        "attempt_count": 1,
        "status_transitions": {"finalized_at": FEB_1, "paid_at": None},
    }
    values = field_values(paths, {"subscription": subscription, "invoice": invoice})
    assert values == {
        "Stripe_Subscription_Status__c": "past_due",
        "Stripe_Current_Period_End__c": "2026-02-01T00:00:00.000+0000",
        "Stripe_Next_Invoice_Date__c": "2026-02-01T00:00:00.000+0000",
        "Stripe_Latest_Invoice_Number__c": "ABC-0002",
        "Stripe_Latest_Invoice_Status__c": "open",
        "Stripe_Latest_Invoice_Amount_Due__c": 12000.0,  # yen have no minor unit
        "Stripe_Latest_Invoice_Amount_Paid__c": 0.0,
        "Stripe_Latest_Invoice_URL__c": "https://pay/in_1",
        "Stripe_Last_Payment_Status__c": "failed",
        "Stripe_Last_Payment_Date__c": "2026-02-01T00:00:00.000+0000",
    }
    paid = {**invoice, "currency": "usd", "status": "paid", "amount_paid": 12000,
            "status_transitions": {"finalized_at": FEB_1, "paid_at": FEB_1 + 60}}  # fmt: skip
    canceled = {**subscription, "status": "canceled"}
    values = field_values(paths, {"subscription": canceled, "invoice": paid})
    assert values["Stripe_Latest_Invoice_Amount_Paid__c"] == 120.0
    assert values["Stripe_Last_Payment_Status__c"] == "succeeded"
    assert values["Stripe_Last_Payment_Date__c"] == "2026-02-01T00:01:00.000+0000"
    assert values["Stripe_Next_Invoice_Date__c"] is None  # a canceled subscription bills no more


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"Order": {"Stripe_X__c": "invoice.bogus"}}, "'bogus' is not a field of a Stripe invoice"),
        ({"Order": {"Status": "invoice.status"}}, "must be named Stripe_…__c"),
        ({"Account": {"Stripe_X__c": "invoice.status"}}, "not a source here"),
        ({"Order": {"Stripe_X__c": "invoice.total | euros"}}, "unknown transform 'euros'"),
        ({"Order": {"Stripe_X__c": "billing.mood"}}, "billing.mood is unknown"),
        ({"Lead": {}}, "Extra inputs are not permitted"),
        ({"invoice_records": {"Status": "invoice.status"}}, "not a field (Name or …__c)"),
        ({"invoice_records": {"Status__c": "customer.delinquent"}}, "not a source here"),
    ],
)
def test_bad_reverse_mappings_fail_at_load_naming_the_field(
    block: dict[str, dict[str, str]], message: str
) -> None:
    with pytest.raises(ValidationError) as error:
        load_settings(reverse_mappings=block)
    assert message in str(error.value)
    assert "reverse_mappings." in str(error.value)


def test_stripe_events_need_a_secret_when_enabled_and_tls_in_pairs() -> None:
    with pytest.raises(ValidationError, match=r"stripe_events\.endpoint_secret"):
        load_settings(stripe_events={"enabled": True})
    with pytest.raises(ValidationError, match=r"stripe_events\.endpoint_secret"):
        load_settings(stripe_events={"enabled": True, "endpoint_secret": ""})
    with pytest.raises(ValidationError, match="both tls_cert_file and tls_key_file"):
        load_settings(stripe_events={"tls_key_file": "key.pem"})


def test_an_event_older_than_the_last_read_of_all_its_objects_needs_no_read() -> None:
    freshness = Freshness(margin_s=5.0)
    both = Refresh(subscription_id="sub_1", customer_id="cus_1")
    freshness.note(Refresh(subscription_id="sub_1"), read_at=1_000.0)
    assert not freshness.covers(both, created=900.0)  # the customer was never read
    freshness.note(both, read_at=1_000.0)
    assert freshness.covers(both, created=994.0)
    assert not freshness.covers(both, created=996.0)  # within the clocks' margin: read again
    assert not freshness.covers(Refresh(), created=0.0)
    small = Freshness(capacity=1)
    small.note(Refresh(subscription_id="sub_1"), read_at=1_000.0)
    small.note(Refresh(subscription_id="sub_2"), read_at=1_000.0)
    assert not small.covers(Refresh(subscription_id="sub_1"), created=0.0)


class _Reader:
    """Our BillingReader seam: subscriptions as Stripe answers them (schedule expanded)."""

    def __init__(self, subscriptions: dict[str, dict[str, Any]]) -> None:
        self.subscriptions = subscriptions

    def subscription(self, subscription_id: str) -> dict[str, Any] | None:
        return self.subscriptions.get(subscription_id)

    def invoice(self, invoice_id: str) -> dict[str, Any] | None:
        return None

    def customer(self, customer_id: str) -> dict[str, Any] | None:
        return None


class _Collections:
    """Our SObjectCollections seam: the org holds every field already (nothing to write)."""

    def query(self, soql: str) -> list[dict[str, Any]]:
        return []

    def update(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"success": True, "id": r["Id"]} for r in records]


def _event_of(sub_id: str, event_type: str) -> Message[StripeEvent]:
    payload = json.dumps(_event(event_type, {"object": "subscription", "id": sub_id}))
    event = StripeEvent(
        event_id=f"evt_{sub_id}", type=event_type, created=dt.datetime.now(dt.UTC),
        object_type="subscription", object_id=sub_id, source="webhook", payload=payload,
    )  # fmt: skip
    return Message("cpqsync.stripe.events", 0, 0, None, event, None)


def test_a_subscription_a_releasing_schedule_started_asks_for_its_orders_sync() -> None:
    """A4: the order names the subscription only after a sync; a schedule ending in cancel
    (its order names the schedule) and other events of the subscription ask for none."""
    codec = Codec()
    schedule = {"object": "subscription_schedule", "id": "sub_sched_1",
                "metadata": {"salesforce_order_id": "801000000000001AAA"}}  # fmt: skip
    reader = _Reader(
        {
            "sub_evergreen": {"id": "sub_evergreen", "status": "active",
                              "schedule": {**schedule, "end_behavior": "release"}},
            "sub_term": {"id": "sub_term", "status": "active",
                         "schedule": {**schedule, "end_behavior": "cancel"}},
        }
    )  # fmt: skip
    handler = BillingStateHandler(
        cast(BillingReader, reader),
        cast(SObjectCollections, _Collections()),
        ReverseMappings(),
        DeadLetters("cpqsync.dlq", "billing", 10, envelope=envelope_headers),
        registry=CollectorRegistry(),
        order_syncs=RootWorkOutputs(codec, "cpqsync.sync.roots"),
    )
    outcomes = handler.handle_batch(
        [
            _event_of("sub_evergreen", "customer.subscription.created"),
            _event_of("sub_evergreen", "customer.subscription.updated"),
            _event_of("sub_term", "customer.subscription.created"),
        ]
    )
    assert all(isinstance(o, Processed) for o in outcomes)
    outputs = [o.outputs for o in outcomes if isinstance(o, Processed)]
    assert [len(o) for o in outputs] == [1, 0, 0]
    [ask] = outputs[0]
    assert ask.topic == "cpqsync.sync.roots" and ask.key == b"801000000000001AAA"
    work = codec.decode_as(ask.value, ask.topic, RootWork)
    assert (work.root_id, work.object_type, work.record_id, work.manual) == (
        "801000000000001AAA", "Order", "801000000000001AAA", False,
    )  # fmt: skip
    assert work.asked_by_record_id is None  # reported like any trigger's sync
