"""A CPQ contract's life end to end (rules A1, A2): org simulator (CPQ's contract and amendment
records, change events) -> bridge -> Kafka -> sync -> Stripe emulator -> writeback.

Assertions read what Stripe would hold (the emulator's schedules and subscriptions) and what
the writeback put on the orders, never the sync's own calls.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Producer
from prometheus_client import CollectorRegistry

from consumer.writeback import WritebackService
from cpqsync.kafka.clients import producer_config
from cpqsync_sandbox.org.cpq_actions import AmendmentLine
from cpqsync_sandbox.org.dataset import STANDARD_PRICEBOOK_REF
from cpqsync_sandbox.org.simulator import OrgSimulator
from schemas.models import SyncStatus
from tests.bridge.kafka_read import read_topic
from tests.sync.stack import FAST_GROUP, Stack
from tests.sync.stripe_state import snapshot
from tests.writeback.support import wait_until

pytestmark = pytest.mark.integration


def _month_start(today: dt.date, months_back: int) -> dt.date:
    index = today.year * 12 + today.month - 1 - months_back
    return dt.date(index // 12, index % 12 + 1, 1)


def _new_order(org: OrgSimulator, start: dt.date) -> tuple[str, str]:
    """A Draft 12-month order from ``start``: 5 seats at 1,200.00 a term, billed monthly."""
    account = org.create("Account", {"Name": "Contract Life Inc", "BillingCountry": "US"})
    product = org.create(
        "Product2",
        {
            "Name": "Seats",
            "SBQQ__SubscriptionPricing__c": "Fixed Price",
            "SBQQ__BillingFrequency__c": "Monthly",
            "SBQQ__BillingType__c": "Advance",
        },
    )
    book = org.dataset.refs[STANDARD_PRICEBOOK_REF]
    entry = org.create(
        "PricebookEntry",
        {"Pricebook2Id": book, "Product2Id": product, "UnitPrice": 100, "IsActive": True},
    )
    quote = org.create(
        "SBQQ__Quote__c",
        {
            "SBQQ__Account__c": account,
            "SBQQ__StartDate__c": start.isoformat(),
            "SBQQ__SubscriptionTerm__c": 12,
            "SBQQ__Primary__c": True,
        },
    )
    order = org.create(
        "Order",
        {
            "AccountId": account,
            "Pricebook2Id": book,
            "SBQQ__Quote__c": quote,
            "Status": "Draft",
            "EffectiveDate": start.isoformat(),
            "Type": "New",
        },
    )
    line = org.create(
        "OrderItem",
        {
            "OrderId": order,
            "PricebookEntryId": entry,
            "Quantity": 5,
            "UnitPrice": 1200,
            "SBQQ__SubscriptionPricing__c": "Fixed Price",
            "SBQQ__BillingFrequency__c": "Monthly",
            "SBQQ__BillingType__c": "Advance",
            "SBQQ__ChargeType__c": "Recurring",
        },
    )
    return order, line


@pytest.fixture
def running(stack: Stack, kafka: str) -> Iterator[Stack]:
    """The stack with its bridge, one sync member and the writeback running."""
    stack.start_bridge()
    stack.start_sync()
    writeback = WritebackService(
        stack.settings,
        bootstrap_servers=kafka,
        group_id=f"{stack.settings.kafka.topic_prefix}-writeback",
        client_config=dict(FAST_GROUP),
        registry=CollectorRegistry(),
    ).start()
    try:
        yield stack
    finally:
        writeback.stop()


def _schedule_of(stack: Stack, order_id: str) -> dict[str, Any] | None:
    for schedule in stack.stripe.objects("subscription_schedule"):
        if schedule["metadata"].get("salesforce_order_id") == order_id:
            return dict(schedule)
    return None


def _quantities(schedule: dict[str, Any]) -> list[list[int]]:
    return [[item["quantity"] for item in phase["items"]] for phase in schedule["phases"]]


def _wait_for_phases(stack: Stack, order_id: str, want: list[list[int]]) -> dict[str, Any]:
    def done() -> bool:
        schedule = _schedule_of(stack, order_id)
        return schedule is not None and _quantities(schedule) == want

    try:
        wait_until(done, 90, f"the contract's schedule with quantities {want}")
    except AssertionError as exc:
        problems = [
            f"{r.primary_record_id}: {r.message}"
            for r in stack.results()
            if r.status.value != "Success"
        ]
        raise AssertionError(f"{exc}; not synced: {problems}") from None
    schedule = _schedule_of(stack, order_id)
    assert schedule is not None
    return schedule


def _written(org: OrgSimulator, order_id: str, schedule_id: str) -> None:
    wait_until(
        lambda: org.get("Order", order_id).get("Stripe_ID__c") == schedule_id,
        60,
        f"Order {order_id}'s Stripe_ID__c = {schedule_id}",
    )


def test_upsell_downsell_and_cancellation_rewrite_the_contracts_schedule(
    running: Stack,
) -> None:
    org, stack = running.org, running
    today = dt.datetime.now(dt.UTC).date()
    initial, line = _new_order(org, _month_start(today, 3))
    org.activate_order(initial)
    contract = org.contract_order(initial)
    schedule = _wait_for_phases(stack, initial, [[5]])
    _written(org, initial, schedule["id"])

    # Upsell: 2 more seats from ten days ago, activated now (A1: it starts now).
    upsell = org.amend_contract(
        contract, today - dt.timedelta(days=10), [AmendmentLine(2, revises=line)]
    )
    org.activate_order(upsell)
    schedule = _wait_for_phases(stack, initial, [[5], [7]])
    started = schedule["phases"][1]["start_date"]
    assert abs(started - dt.datetime.now(dt.UTC).timestamp()) < 120
    _written(org, upsell, schedule["id"])
    subscription = stack.stripe.objects("subscription")
    [running_sub] = [s for s in subscription if s["id"] == schedule["subscription"]]
    assert [i["quantity"] for i in running_sub["items"]["data"]] == [7]

    # Downsell dated five days ago, activated later still: 3 fewer, in a phase of its own that
    # starts now (the upsell's phase, already running, keeps its start).
    downsell = org.amend_contract(
        contract, today - dt.timedelta(days=5), [AmendmentLine(-3, revises=line)]
    )
    # (An amendment starting now within seconds of the running phase's start joins that phase
    # instead: a phase must last at least a second. Wait those seconds out for a phase of its own.)
    time.sleep(max(0.0, started + 6 - time.time()))
    org.activate_order(downsell)
    schedule = _wait_for_phases(stack, initial, [[5], [7], [4]])
    assert schedule["phases"][1]["start_date"] == started
    _written(org, downsell, schedule["id"])

    # Cancellation from today (A2): the schedule and its subscription end at once.
    cancellation = org.cancel_contract(contract, today)
    org.activate_order(cancellation)
    wait_until(
        lambda: (_schedule_of(stack, initial) or {}).get("status") == "canceled",
        90,
        "the cancelled schedule",
    )
    schedule = _schedule_of(stack, initial)
    assert schedule is not None
    [sub] = [s for s in stack.stripe.objects("subscription") if s["id"] == schedule["subscription"]]
    assert sub["status"] == "canceled"
    _written(org, cancellation, schedule["id"])
    assert len(stack.stripe.objects("subscription_schedule")) == 1


def test_initial_order_and_amendment_activated_together_end_with_one_schedule(
    running: Stack,
) -> None:
    org, stack = running.org, running
    today = dt.datetime.now(dt.UTC).date()
    initial, line = _new_order(org, _month_start(today, 1))
    org.activate_order(initial)
    contract = org.contract_order(initial)
    # Amended before the initial order's sync can have run: whichever order the sync sees
    # first, the contract ends as one schedule with both phases.
    upsell = org.amend_contract(contract, _month_start(today, -1), [AmendmentLine(4, revises=line)])
    org.activate_order(upsell)
    schedule = _wait_for_phases(stack, initial, [[5], [9]])
    _written(org, initial, schedule["id"])
    _written(org, upsell, schedule["id"])
    assert [s["id"] for s in stack.stripe.objects("subscription_schedule")] == [schedule["id"]]
    before = snapshot(stack.stripe)

    # Every order event delivered again, newest first (the amendment's before the initial
    # order's), then the whole topic replayed by a new group: the schedule stays as it is.
    def synced(rounds: int) -> bool:
        done = [
            r
            for r in stack.results()
            if r.primary_record_id in (initial, upsell)
            and r.secondary_record_id is None
            and r.status is SyncStatus.SUCCESS
        ]
        return len(done) >= rounds

    seen = len([r for r in stack.results() if r.status is SyncStatus.SUCCESS])
    order_topic = stack.topics.object_topic("Order")
    producer = Producer(producer_config(stack.settings.kafka, stack.kafka))
    for message in reversed(read_topic(stack.kafka, order_topic)):
        producer.produce(
            order_topic, message.value, message.key, headers=list(message.headers.items())
        )
    assert producer.flush(10) == 0
    wait_until(lambda: synced(4), 90, "both orders synced again")
    assert snapshot(stack.stripe) == before
    stack.stop_sync(stack._syncs[0])
    stack.start_sync(group=f"{stack.settings.kafka.topic_prefix}-replay")
    wait_until(lambda: synced(6), 90, "both orders replayed")
    assert snapshot(stack.stripe) == before
    assert len([r for r in stack.results() if r.status is SyncStatus.SUCCESS]) > seen


def _add_on(org: OrgSimulator) -> tuple[str, str]:
    """A second product for the contract, with its pricebook entry: (Product2, entry)."""
    product = org.create(
        "Product2",
        {
            "Name": "Add-on",
            "SBQQ__SubscriptionPricing__c": "Fixed Price",
            "SBQQ__BillingFrequency__c": "Monthly",
            "SBQQ__BillingType__c": "Advance",
        },
    )
    entry = org.create(
        "PricebookEntry",
        {
            "Pricebook2Id": org.dataset.refs[STANDARD_PRICEBOOK_REF],
            "Product2Id": product,
            "UnitPrice": 50,
            "IsActive": True,
        },
    )
    return product, entry


def _line_of(org: OrgSimulator, order_id: str) -> str:
    [line] = org.query(f"SELECT Id FROM OrderItem WHERE OrderId = '{order_id}'").records
    return str(line["Id"])


def _succeeded(stack: Stack, order_id: str) -> None:
    def done() -> bool:
        return any(
            r.primary_record_id == order_id
            and r.secondary_record_id is None
            and r.status is SyncStatus.SUCCESS
            for r in stack.results()
        )

    wait_until(done, 60, f"a Success Sync Record for Order {order_id}")


def _line_prices_for(stack: Stack, line_id: str) -> list[dict[str, Any]]:
    return [
        p
        for p in stack.stripe.objects("price")
        if p["metadata"].get("salesforce_order_item_id") == line_id
    ]


def _new_product_amendment_whose_price_create_fails(
    stack: Stack, stage: str
) -> tuple[str, str, str, str]:
    """A contract in Stripe, then an amendment adding a new product starting in three days
    (inside a billing period, so its phase carries a proration item for the new line) whose
    line price create fails with a 500 Stripe stores for the request's idempotency key, at
    ``stage``. Returns (initial order, its line, contract, amendment)."""
    org = stack.org
    today = dt.datetime.now(dt.UTC).date()
    order, line = _new_order(org, _month_start(today, 2))
    org.activate_order(order)
    contract = org.contract_order(order)
    _wait_for_phases(stack, order, [[5]])
    _, entry = _add_on(org)
    # The line's price differs from the entry's (720 a term, 60 a month): a price of its own.
    amendment = org.amend_contract(
        contract,
        today + dt.timedelta(days=3),
        [AmendmentLine(2, pricebook_entry_id=entry, unit_price=720)],
    )
    new_line = _line_of(org, amendment)
    [rule] = stack.stripe.configure_faults(
        {
            "kind": "error",
            "stage": stage,
            "method": "POST",
            "path": "^/v1/prices$",
            "rate": 1.0,
            "max_count": 1,
        }
    )
    org.activate_order(amendment)
    wait_until(lambda: rule.fired == 1, 60, "the line price create's 500")
    [faulted] = [e for e in stack.stripe.request_log() if e.fault == "error"]
    assert str(faulted.idempotency_key).startswith(f"cpqsync:{new_line}:price.create:")
    return order, line, contract, amendment


def test_a_new_product_amendment_whose_price_create_stored_a_500_after_the_write_still_syncs(
    running: Stack,
) -> None:
    """Stripe made an amendment line's price and then answered 500, which it stores under the
    idempotency key and replays to every later request with that key (long chaos run A4). The
    retry and every later sync of the contract use the price the first attempt made: the
    contract's next amendment still reaches Stripe, with no second price for the line."""
    stack, org = running, running.org
    order, line, contract, amendment = _new_product_amendment_whose_price_create_fails(
        stack, "after"
    )
    new_line = _line_of(org, amendment)
    schedule = _wait_for_phases(stack, order, [[5], [5, 2]])
    _written(org, amendment, schedule["id"])
    _succeeded(stack, amendment)

    # A later amendment re-syncs the whole contract, the new product's phase included.
    upsell = org.amend_contract(
        contract,
        dt.datetime.now(dt.UTC).date() + dt.timedelta(days=5),
        [AmendmentLine(1, revises=line)],
    )
    org.activate_order(upsell)
    schedule = _wait_for_phases(stack, order, [[5], [5, 2], [6, 2]])
    _written(org, upsell, schedule["id"])
    _succeeded(stack, upsell)
    [price] = _line_prices_for(stack, new_line)
    assert price["active"] is False  # P6: archived once the schedule uses it
    used = {item["price"] for phase in schedule["phases"][1:] for item in phase["items"]}
    assert price["id"] in used


def test_a_new_product_amendment_whose_price_create_stored_a_500_before_the_write_still_syncs(
    running: Stack,
) -> None:
    """Stripe began the line price's create, failed before making the price and stored its 500
    for the key: no lookup can find a price, and the same key only ever gets that 500 again. The
    retry creates the price under a new key instead of failing until the message is
    dead-lettered."""
    stack, org = running, running.org
    order, _, _, amendment = _new_product_amendment_whose_price_create_fails(stack, "during")
    new_line = _line_of(org, amendment)
    schedule = _wait_for_phases(stack, order, [[5], [5, 2]])
    _written(org, amendment, schedule["id"])
    _succeeded(stack, amendment)
    [price] = _line_prices_for(stack, new_line)
    assert price["active"] is False
    assert price["id"] in {item["price"] for item in schedule["phases"][1]["items"]}
