"""Issue 9 acceptance: org simulator -> bridge -> Kafka -> sync consumer -> Stripe emulator.

Assertions read the emulator's objects (what Stripe would hold), never our own calls.
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from confluent_kafka import Producer
from typer.testing import CliRunner

from consumer.sync.results import reports_root
from cpqsync.app.cli.app import app
from cpqsync.kafka.clients import producer_config
from cpqsync_sandbox.org.simulator import OrgSimulator
from schemas.models import SyncResult, SyncStatus
from tests.bridge.kafka_read import read_topic
from tests.sync.stack import BAD_ORDERS, GOOD_ORDERS, Stack, roots_reported, wait_for
from tests.sync.stripe_state import by_metadata, snapshot

pytestmark = pytest.mark.integration


def activate(org: OrgSimulator, refs: tuple[str, ...]) -> list[str]:
    ids = [org.dataset.id(ref) for ref in refs]
    for order_id in ids:
        org.activate_order(order_id)
    return ids


def root_result(results: list[SyncResult], record_id: str) -> SyncResult:
    [found] = [r for r in results if r.primary_record_id == record_id and reports_root(r)]
    return found


def sync_seeded_orders(stack: Stack) -> list[SyncResult]:
    stack.start_bridge()
    stack.start_sync()
    ids = activate(stack.org, GOOD_ORDERS + BAD_ORDERS)
    return stack.wait_for_results(lambda rs: roots_reported(rs, ids), timeout=90)


def test_seeded_orders_create_exactly_the_expected_stripe_objects(stack: Stack) -> None:
    results = sync_seeded_orders(stack)
    org, stripe = stack.org, stack.stripe

    customers = stripe.objects("customer")
    assert sorted(c["name"] for c in customers) == [
        "Acme Corporation",
        "Globex GmbH",
        "Initech Inc.",
        "Stark Logistics",
        "Umbrella Analytics Ltd",
    ]
    refs = ("platform", "support", "onboarding", "api_calls", "training", "seats_quarterly")
    products = {f"sf_{org.dataset.id(ref)}" for ref in (*refs, "storage")}
    assert {p["id"] for p in stripe.objects("product")} == products
    assert len(stripe.objects("billing.meter")) == 2  # the two metered (Arrears) products

    # Acme: 1440.00 a year billed monthly is 120.00 a month (P5); lines get their own prices,
    # archived once the schedule uses them (P6); the one-time fee reuses the entry's price.
    acme = org.dataset.id("order_acme")
    [schedule] = by_metadata(stripe, "subscription_schedule", "salesforce_order_id", acme)
    [phase] = schedule["phases"]
    prices = {p["id"]: p for p in stripe.objects("price")}
    items = sorted(
        (prices[i["price"]]["unit_amount_decimal"], i["quantity"]) for i in phase["items"]
    )
    assert [(Decimal(a), q) for a, q in items] == [(Decimal("12000"), 25), (Decimal("50000"), 1)]
    assert all(not prices[i["price"]]["active"] for i in phase["items"])
    [one_time] = phase["add_invoice_items"]
    onboarding = prices[one_time["price"]]
    assert onboarding["lookup_key"] == f"sf_pbe_{org.dataset.id('onboarding_usd')}"
    assert onboarding["active"] and Decimal(onboarding["unit_amount_decimal"]) == 500000

    schedules = stripe.objects("subscription_schedule")
    assert len(schedules) == 4  # acme, globex, stark, umbrella; initech is one-time only (O3)
    [invoice] = stripe.objects("invoice")
    assert invoice["status"] == "open" and invoice["metadata"]["salesforce_order_id"] == (
        org.dataset.id("order_initech")
    )
    assert len(stripe.objects("price")) == 10  # 7 line prices, 3 pricebook prices

    by_order = {s["metadata"]["salesforce_order_id"]: s["id"] for s in schedules}
    for ref in GOOD_ORDERS:
        result = root_result(results, org.dataset.id(ref))
        assert result.status is SyncStatus.SUCCESS, result.message
        expected = by_order.get(result.primary_record_id, invoice["id"])
        assert result.stripe_object_id == expected
        assert result.dashboard_link and "/test/" in result.dashboard_link
    initech = root_result(results, org.dataset.id("order_initech"))
    assert initech.invoice_payment_link == invoice["hosted_invoice_url"]
    for customer in customers:
        account_results = [
            r
            for r in results
            if r.primary_record_id == customer["metadata"]["salesforce_account_id"]
        ]
        assert account_results and {r.stripe_object_id for r in account_results} == {customer["id"]}
    for ref in BAD_ORDERS:
        order_id = org.dataset.id(ref)
        result = root_result(results, order_id)
        assert result.status is SyncStatus.ERROR
        assert result.message.startswith("Data Error: ")
        expected_error = org.expected_error(order_id)
        assert expected_error and expected_error in result.message


def test_redelivery_and_replays_leave_stripe_unchanged(stack: Stack) -> None:
    sync_seeded_orders(stack)
    before = snapshot(stack.stripe)
    order_topic = stack.topics.object_topic("Order")
    good = [stack.org.dataset.id(ref) for ref in GOOD_ORDERS]

    def stripe_ids() -> dict[str, set[str | None]]:
        results = stack.results()
        return {
            order: {
                r.stripe_object_id
                for r in results
                if r.primary_record_id == order and reports_root(r)
            }
            for order in good
        }

    def successes(order_id: str) -> int:
        return sum(
            1
            for r in stack.results()
            if r.primary_record_id == order_id
            and reports_root(r)
            and r.status is SyncStatus.SUCCESS
        )

    def wait_rounds(rounds: int) -> None:
        wait_for(lambda: all(successes(o) >= rounds for o in good), timeout=90)

    # 1. The same events delivered again.
    producer = Producer(producer_config(stack.settings.kafka, stack.kafka))
    for message in read_topic(stack.kafka, order_topic):
        producer.produce(
            order_topic, message.value, message.key, headers=list(message.headers.items())
        )
    assert producer.flush(10) == 0
    wait_rounds(2)
    assert snapshot(stack.stripe) == before

    # 2. The whole topic replayed by a new consumer group.
    stack.stop_sync(stack._syncs[0])
    stack.start_sync(group=f"{stack.settings.kafka.topic_prefix}-replay")
    wait_rounds(4)
    assert snapshot(stack.stripe) == before

    # 3. Replayed again after Stripe forgot every idempotency key (replays older than 24 h).
    stack.stripe.set_idempotency_retention(0)
    stack.stop_sync(stack._syncs[0])
    stack.start_sync(group=f"{stack.settings.kafka.topic_prefix}-replay-expired")
    wait_rounds(6)
    assert snapshot(stack.stripe) == before
    assert all(len(ids) == 1 for ids in stripe_ids().values()), stripe_ids()


def test_live_sync_off_syncs_nothing_until_synced_by_hand(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = stack.settings
    env = {
        "CPQSYNC_KAFKA__BOOTSTRAP_SERVERS": stack.kafka,
        "CPQSYNC_KAFKA__TOPIC_PREFIX": settings.kafka.topic_prefix,
        "CPQSYNC_KAFKA__PARTITIONS": "2",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CPQSYNC_CONFIG", raising=False)
    runner = CliRunner()
    switched = runner.invoke(app, ["live-sync", "off"])
    assert switched.exit_code == 0, switched.output
    assert '"live": false' in switched.output

    stack.start_bridge()
    service = stack.start_sync()
    [order_id] = activate(stack.org, ("order_acme",))
    registry = service.registry
    assert registry is not None
    wait_for(
        lambda: (
            (
                registry.get_sample_value(
                    "cpqsync_sync_unreported_skips_total", {"reason": "live_sync_off"}
                )
                or 0
            )
            >= 1
        ),
        timeout=30,
    )
    time.sleep(0.5)
    assert stack.stripe.objects("subscription_schedule") == []
    assert stack.stripe.objects("customer") == []
    assert stack.results() == []

    synced = runner.invoke(app, ["sync-order", order_id, "--timeout", "60"])
    assert synced.exit_code == 0, synced.output
    [schedule] = stack.stripe.objects("subscription_schedule")
    assert f"Order {order_id}: Success" in synced.output
    assert schedule["id"] in synced.output
    result = root_result(stack.results(), order_id)
    assert result.request_id is not None and result.stripe_object_id == schedule["id"]


def test_changed_pricebook_price_moves_the_lookup_key_to_a_new_price(stack: Stack) -> None:
    stack.start_bridge()
    stack.start_sync()
    org, stripe = stack.org, stack.stripe
    [order_id] = activate(org, ("order_acme",))
    stack.wait_for_results(lambda rs: roots_reported(rs, [order_id]))
    entry = org.dataset.id("onboarding_usd")
    key = f"sf_pbe_{entry}"
    [old] = [p for p in stripe.objects("price") if p["lookup_key"] == key]

    org.update("PricebookEntry", entry, {"UnitPrice": 5500})
    results = stack.wait_for_results(lambda rs: roots_reported(rs, [entry]))

    [new] = [p for p in stripe.objects("price") if p["lookup_key"] == key]
    assert new["id"] != old["id"] and new["active"]
    assert Decimal(new["unit_amount_decimal"]) == 550000
    [archived] = [p for p in stripe.objects("price") if p["id"] == old["id"]]
    assert not archived["active"] and archived["lookup_key"] is None
    result = root_result(results, entry)
    assert result.status is SyncStatus.SUCCESS and result.stripe_object_id == new["id"]
