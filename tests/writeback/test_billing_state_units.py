"""Billing state (B1) without I/O: which objects an event refreshes, the values a record
gets, and the reverse_mappings checks that fail at load."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from consumer.billing.billing_view import field_values
from consumer.billing.targets import Refresh, refresh_for
from consumer.writeback.billing_freshness import Freshness
from cpqsync.mapping.reverse_mappings import ReverseMappings
from cpqsync.settings import load_settings

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
