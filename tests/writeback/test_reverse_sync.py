"""Reverse sync (B1) through the real clients: Stripe emulator -> signed webhooks and
GET /v1/events catch-up -> Kafka -> billing writeback -> the org's Order and Account."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from confluent_kafka import Producer
from prometheus_client import REGISTRY, generate_latest

from cpqsync.kafka.topics import Topics
from cpqsync.mapping.reverse_mappings import INVOICE_RECORD_EXAMPLE
from cpqsync_sandbox.datasets import default_dataset
from cpqsync_sandbox.org.simulator import OrgSimulator
from cpqsync_sandbox.stripe_emulator import StripeEmulator
from cpqsync_sandbox.stripe_emulator.webhook_delivery import sign
from schemas.codec import Codec
from schemas.models import StripeEvent
from tests.bridge.kafka_read import read_topic
from tests.writeback.reverse_sync_support import ReverseSync, reverse_sync, wait_for
from tests.writeback.support import collection_calls


@pytest.fixture
def org() -> Iterator[OrgSimulator]:
    with OrgSimulator(dataset=default_dataset(), start_pubsub=False) as sim:
        yield sim


@pytest.fixture
def emulator() -> Iterator[StripeEmulator]:
    # Stripe's webhook retries come hours apart: a delivery that failed stays failed here,
    # so only catch-up can bring its event in.
    with StripeEmulator() as emu:
        yield emu


@pytest.fixture
def stack(
    org: OrgSimulator,
    emulator: StripeEmulator,
    kafka: str,
    unique: Callable[[str], str],
    fast_group_config: dict[str, Any],
) -> Iterator[ReverseSync]:
    with reverse_sync(org, emulator, kafka, unique("rev"), fast_group_config) as (harness, _):
        yield harness


def _order(org: OrgSimulator) -> tuple[str, str]:
    order = org.dataset.refs["order_acme"]
    return order, str(org.get("Order", order)["AccountId"])


def _shows(org: OrgSimulator, order: str, **expected: Any) -> Callable[[], bool]:
    def check() -> bool:
        record = org.get("Order", order)
        return all(record.get(f"Stripe_{k}__c") == v for k, v in expected.items())

    return check


def test_paid_invoice_failed_payment_and_cancellation_show_on_the_order(
    stack: ReverseSync, org: OrgSimulator
) -> None:
    order, account = _order(org)
    stack.start_source()
    customer, schedule = stack.subscribe(order, account)
    first = stack.client.v1.invoices.list(params={"customer": customer.id}).data[0]
    wait_for(
        _shows(org, order, Subscription_Status="active", Latest_Invoice_Number=first.number),
        20,
        "the first invoice on the order",
    )

    stack.advance(customer, 31)
    second = stack.client.v1.invoices.list(params={"customer": customer.id}).data[0]
    assert second.id != first.id and second.status == "paid"
    wait_for(
        _shows(
            org,
            order,
            Latest_Invoice_Number=second.number,
            Latest_Invoice_Status="paid",
            Last_Payment_Status="succeeded",
        ),
        20,
        "the paid renewal invoice on the order",
    )
    shown = org.get("Order", order)
    assert shown["Stripe_Latest_Invoice_Amount_Paid__c"] == 120.0
    assert shown["Stripe_Latest_Invoice_URL__c"] == second.hosted_invoice_url
    period_end = stack.client.v1.subscriptions.retrieve(str(schedule.subscription))
    end = period_end["items"]["data"][0]["current_period_end"]
    assert shown["Stripe_Current_Period_End__c"] == dt.datetime.fromtimestamp(end, dt.UTC)
    assert org.get("Account", account)["Stripe_Delinquent__c"] is False

    stack.decline_payments(customer)
    stack.advance(customer, 31)
    wait_for(
        _shows(org, order, Subscription_Status="past_due", Last_Payment_Status="failed"),
        20,
        "the failed payment on the order",
    )
    assert org.get("Order", order)["Stripe_Latest_Invoice_Status__c"] == "open"
    wait_for(
        lambda: org.get("Account", account)["Stripe_Delinquent__c"] is True,
        20,
        "the account marked delinquent",
    )

    stack.client.v1.subscriptions.cancel(str(schedule.subscription))
    wait_for(_shows(org, order, Subscription_Status="canceled"), 20, "the cancellation")
    assert org.get("Order", order)["Stripe_Next_Invoice_Date__c"] is None
    assert stack.duplicated_ids() == {}


def test_events_sent_while_the_source_was_down_arrive_once_after_restart(
    stack: ReverseSync, org: OrgSimulator
) -> None:
    order, account = _order(org)
    first_source = stack.start_source()
    customer, _ = stack.subscribe(order, account)
    wait_for(_shows(org, order, Subscription_Status="active"), 20, "the subscription")
    wait_for(lambda: len(stack.topic_events()) >= 4, 20, "the first events on the topic")
    stack.stop_source(first_source)

    before = {e["id"] for e in stack.emulator.events()}
    stack.advance(customer, 62)  # two renewals while nobody listens
    missed = {e["id"] for e in stack.emulator.events()} - before
    failed = {a.event_id for a in stack.emulator.webhook_attempts() if a.status == 0}
    wait_for(
        lambda: missed <= {a.event_id for a in stack.emulator.webhook_attempts() if a.status == 0},
        20,
        "every delivery during the outage to fail",
    )
    assert not failed & before

    stack.start_source()
    on_topic = lambda: {e.event_id for e in stack.topic_events()}  # noqa: E731
    wait_for(lambda: missed <= on_topic(), 30, "catch-up of the events sent during the outage")
    assert stack.duplicated_ids() == {}
    invoices = stack.client.v1.invoices.list(params={"customer": customer.id}).data
    wait_for(_shows(org, order, Latest_Invoice_Number=invoices[0].number), 20, "the newest invoice")
    assert {e.source for e in stack.topic_events() if e.event_id in missed} == {"catch_up"}


def test_a_replay_from_the_start_changes_nothing_and_order_does_not_matter(
    stack: ReverseSync,
    org: OrgSimulator,
    kafka: str,
    emulator: StripeEmulator,
    fast_group_config: dict[str, Any],
) -> None:
    order, account = _order(org)
    stack.start_source()
    customer, _ = stack.subscribe(order, account)
    stack.advance(customer, 31)
    newest = stack.client.v1.invoices.list(params={"customer": customer.id}).data[0]
    wait_for(
        _shows(org, order, Latest_Invoice_Number=newest.number, Latest_Invoice_Status="paid"),
        20,
        "the newest invoice",
    )
    # Two updates of one invoice, delivered newest first: the older one must not win.
    updates = [
        e
        for e in emulator.events()
        if e["data"]["object"]["id"] == newest.id and e["type"].startswith("invoice.")
    ]
    paid = next(e for e in updates if e["type"] == "invoice.paid")
    finalized = next(e for e in updates if e["type"] == "invoice.finalized")
    assert finalized["data"]["object"]["status"] == "open"
    codec, producer = Codec(), Producer({"bootstrap.servers": kafka})
    for event in (paid, finalized):
        record = StripeEvent(
            event_id=event["id"] + "_late",
            type=event["type"],
            created=dt.datetime.fromtimestamp(event["created"], dt.UTC),
            object_type="invoice",
            object_id=newest.id,
            customer_id=customer.id,
            source="webhook",
            payload=json.dumps(event),
        )
        producer.produce(stack.topic, codec.encode(record, stack.topic), customer.id.encode())
    assert producer.flush(10) == 0
    writes_before = collection_calls(org, "PATCH")
    total = len(stack.topic_events())

    # A second billing group reads the whole topic from the start: every event again.
    with reverse_sync(org, emulator, kafka, stack.prefix, fast_group_config, "replay") as (
        _,
        replay,
    ):
        engine = replay.billing
        assert engine is not None
        wait_for(
            lambda: _handled(engine.handler.metrics) >= total, 60, "the replay to read every event"
        )
    assert org.get("Order", order)["Stripe_Latest_Invoice_Status__c"] == "paid"
    assert collection_calls(org, "PATCH") == writes_before


def _handled(metrics: Any) -> float:
    """Events the billing writeback has handled, whatever the outcome."""
    return float(
        sum(
            s.value
            for f in metrics.events.collect()
            for s in f.samples
            if s.name.endswith("_total")
        )
    )


def _refused(reason: str) -> float:
    value = REGISTRY.get_sample_value(
        "cpqsync_stripe_events_webhooks_refused_total", {"reason": reason}
    )
    return value or 0.0


def test_forged_expired_and_replayed_webhooks_are_refused_counted_and_never_produced(
    stack: ReverseSync, org: OrgSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    source = stack.start_source()
    url = f"http://127.0.0.1:{source.port}/stripe/webhooks"
    secret = stack.settings.stripe_events.endpoint_secret
    assert secret is not None
    order, account = _order(org)
    stack.subscribe(order, account)
    wait_for(lambda: len(stack.topic_events()) >= 4, 20, "the genuine events")
    genuine = stack.topic_events()[0]
    body = genuine.payload.replace(genuine.event_id, "evt_forged")
    before = {r: _refused(r) for r in ("bad_signature", "expired", "replayed", "no_signature")}
    now = int(time.time())

    forged = requests.post(
        url, data=body, headers={"Stripe-Signature": sign(body.encode(), "whsec_wrong", now)}
    )
    expired = requests.post(
        url,
        data=body,
        headers={"Stripe-Signature": sign(body.encode(), secret.get_secret_value(), now - 600)},
    )
    unsigned = requests.post(url, data=body)
    fresh = sign(body.encode(), secret.get_secret_value(), now)
    accepted = requests.post(url, data=body, headers={"Stripe-Signature": fresh})
    replayed = requests.post(url, data=body, headers={"Stripe-Signature": fresh})

    assert [forged.status_code, expired.status_code, unsigned.status_code] == [400, 400, 400]
    assert accepted.status_code == 200 and replayed.status_code == 400
    assert _refused("bad_signature") == before["bad_signature"] + 1
    assert _refused("expired") == before["expired"] + 1
    assert _refused("no_signature") == before["no_signature"] + 1
    assert _refused("replayed") == before["replayed"] + 1
    assert [e.event_id for e in stack.topic_events()].count("evt_forged") == 1

    secrets = [secret.get_secret_value(), stack.emulator.api_key]
    exposed = [
        caplog.text,
        generate_latest(REGISTRY).decode(),
        *(e.payload for e in stack.topic_events()),
        json.dumps(org.get("Order", order), default=str),
    ]
    for text in exposed:
        for value in secrets:
            assert value not in text


def test_each_invoice_becomes_a_record_linked_to_its_order_and_account(
    org: OrgSimulator,
    emulator: StripeEmulator,
    kafka: str,
    unique: Callable[[str], str],
    fast_group_config: dict[str, Any],
) -> None:
    order, account = _order(org)
    prefix = unique("inv")
    with reverse_sync(
        org, emulator, kafka, prefix, fast_group_config, invoice_records=INVOICE_RECORD_EXAMPLE
    ) as (stack, _):
        stack.start_source()
        customer, _schedule = stack.subscribe(order, account)
        stack.advance(customer, 31)
        stack.decline_payments(customer)
        stack.advance(customer, 31)
        invoices = stack.client.v1.invoices.list(params={"customer": customer.id}).data

        def records() -> dict[str, dict[str, Any]]:
            return {str(r["Stripe_ID__c"]): dict(r) for r in org.store.records("Stripe_Invoice__c")}

        wait_for(
            lambda: (
                {i.id: i.status for i in invoices}
                == {k: r["Status__c"] for k, r in records().items()}
            ),
            30,
            "a record per invoice with its status",
        )
        for invoice in invoices:
            record = records()[invoice.id]
            assert record["Order__c"] == order and record["Account__c"] == account
            assert record["Number__c"] == invoice.number
            assert record["Amount_Paid__c"] == invoice.amount_paid / 100
            assert record["Hosted_Invoice_URL__c"] == invoice.hosted_invoice_url
        assert [i.status for i in invoices] == ["open", "paid", "paid"]

    upserts = collection_calls(org, "PATCH")
    with reverse_sync(
        org, emulator, kafka, prefix, fast_group_config, "replay", INVOICE_RECORD_EXAMPLE
    ) as (_, replay):
        assert replay.billing is not None
        billing = replay.billing
        total = len(stack.topic_events())
        wait_for(
            lambda: _handled(billing.handler.metrics) >= total, 60, "the replay to read every event"
        )
    assert collection_calls(org, "PATCH") == upserts  # the replay wrote no record again


def test_a_stripe_outage_holds_billing_events_until_stripe_answers_again(
    stack: ReverseSync, org: OrgSimulator, emulator: StripeEmulator
) -> None:
    order, account = _order(org)
    # Every read of a subscription fails (Stripe 500s); webhooks and the rest still work.
    emulator.configure_faults(
        {"kind": "error", "rate": 1.0, "method": "GET", "path": "^/v1/subscriptions/"}
    )
    stack.start_source()
    stack.subscribe(order, account)
    wait_for(lambda: len(stack.topic_events()) >= 4, 20, "the events on the topic")
    time.sleep(3)  # the billing writeback tries, finds Stripe down, holds and probes
    assert org.get("Order", order).get("Stripe_Subscription_Status__c") is None
    emulator.configure_faults()
    wait_for(_shows(org, order, Subscription_Status="active"), 60, "the state once Stripe is back")
    dead = [r for r in read_topic(stack.kafka, Topics(stack.prefix).dlq)]
    assert dead == []  # an outage is never the events' fault
