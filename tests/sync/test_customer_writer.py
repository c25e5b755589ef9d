"""One writer per customer: an order's sync never updates its account's customer; it asks the
Account's root, which re-reads the account and writes it (C1, docs/reliability.md fix 17).

Two roots writing one customer raced: an order that read the account before an edit could
land its update after the edit's own, and the customer kept the older values for good.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import stripe

from consumer.sync.manual import ManualSyncAnswer, request_sync
from consumer.sync.planning import Operation, Plan, SourceRecord
from consumer.sync.root_asks import leave_to_others
from cpqsync_sandbox.org.simulator import OrgSimulator
from cpqsync_sandbox.stripe_emulator import StripeEmulator
from schemas.codec import Codec
from schemas.models import RootWork, SyncResult, SyncStatus
from tests.bridge.kafka_read import read_topic
from tests.sync.stack import Stack, open_stack, wait_for

ORDER = SourceRecord("Order", "801A")
ACCOUNT = SourceRecord("Account", "001A")


def _op(op_id: str, kind: str, source: SourceRecord, target: str | None = None) -> Operation:
    return Operation(op_id, kind, {"name": op_id}, source, f"key-{op_id}", target)


def test_an_order_plan_leaves_the_customer_update_to_the_account_root() -> None:
    update = _op("customer", "customer.update", ACCOUNT, target="cus_1")
    schedule = _op("schedule", "subscription_schedule.create", ORDER)
    left = leave_to_others(Plan(ORDER, (update, schedule)), {"Account"})
    assert left.plan.operations == (schedule,)
    assert left.asks(None) == (ACCOUNT,), "asked even when the order applies nothing"


def test_a_customer_the_order_creates_is_kept_and_its_root_asked_once_made() -> None:
    create = _op("customer", "customer.create", ACCOUNT)
    schedule = _op("schedule", "subscription_schedule.create", ORDER)
    left = leave_to_others(Plan(ORDER, (create, schedule)), {"Account"})
    assert left.plan.operations == (create, schedule), "the schedule needs the customer's id"
    assert left.asks(None) == (), "not made: nothing to ask about"


def test_a_root_with_no_others_keeps_its_plan() -> None:
    update = _op("customer", "customer.update", ACCOUNT, target="cus_1")
    plan = Plan(ACCOUNT, (update,))
    assert leave_to_others(plan, frozenset()).plan is plan


@pytest.fixture
def stack(
    org: OrgSimulator, emulator: StripeEmulator, kafka: str, unique: Callable[[str], str]
) -> Iterator[Stack]:
    # No bridge: the org's change events never reach Kafka, so only manual syncs (and the
    # asks they lead to) run: an account edit stays unsynced until something asks for it.
    yield from open_stack(org, emulator, kafka, unique("writer"))


def _sync(stack: Stack, order_id: str) -> ManualSyncAnswer:
    answer = request_sync(
        stack.settings.kafka,
        stack.kafka,
        order_id,
        object_type="Order",
        requested_by="cli:test",
        timeout_s=90,
    )
    assert answer.root is not None and answer.root.status is SyncStatus.SUCCESS, answer
    return answer


def _account_results(stack: Stack, account_id: str) -> list[SyncResult]:
    return [r for r in stack.results() if r.primary_record_id == account_id]


def _asks(stack: Stack) -> list[RootWork]:
    topic = stack.topics.sync_roots
    codec = Codec()
    works = [codec.decode_as(r.value, topic, RootWork) for r in read_topic(stack.kafka, topic)]
    return [w for w in works if w.asked_by_record_id is not None]


def _customer(emulator: StripeEmulator, customer_id: str) -> dict[str, Any]:
    client = stripe.StripeClient(emulator.api_key, base_addresses={"api": emulator.api_base})
    customer = client.v1.customers.retrieve(customer_id)
    return dict(customer.to_dict())


@pytest.mark.integration
def test_an_order_sync_asks_the_account_root_to_bring_its_customer_up_to_date(
    stack: Stack, org: OrgSimulator, emulator: StripeEmulator
) -> None:
    first, second = org.dataset.id("order_acme"), "801Dp0000002KSwIAM"
    account_id = str(org.get("Order", first)["AccountId"])
    assert org.get("Order", second)["AccountId"] == account_id, "two orders of one account"
    stack.start_sync()
    for order_id in (first, second):
        org.activate_order(order_id)

    _sync(stack, first)
    # The order made the customer (its schedule needs the id) and reported it for the account;
    # the Account's root, asked afterwards, found it current and said nothing more.
    wait_for(lambda: len(_asks(stack)) == 1, timeout=30)
    (made,) = _account_results(stack, account_id)
    assert made.secondary_record_id == first and made.stripe_object_id
    customer_id = made.stripe_object_id
    assert [(a.root_id, a.asked_by_record_id) for a in _asks(stack)] == [(account_id, first)]

    # Edited in Salesforce; no change event reaches the sync (no bridge).
    org.update("Account", account_id, {"Name": "Renamed by sales GmbH", "Phone": "+41 44 1"})
    answer = _sync(stack, second)
    # The order's own answer writes nothing to the customer: at most it reports the customer
    # for the account's Stripe_ID__c (no writeback runs here to have written it).
    from_order = [r.message for r in answer.results if r.primary_record_id == account_id]
    assert from_order in ([], [f"Synced: already up to date: customer {customer_id}"])
    wait_for(lambda: _customer(emulator, customer_id)["name"] == "Renamed by sales GmbH")
    assert _customer(emulator, customer_id)["phone"] == "+41 44 1"

    def updates() -> list[SyncResult]:
        return [
            r
            for r in _account_results(stack, account_id)
            if r.message == f"Synced: updated customer {customer_id}"
        ]

    wait_for(lambda: bool(updates()), timeout=30)
    (updated,) = updates()
    assert updated.status is SyncStatus.SUCCESS
    assert updated.secondary_record_id is None, "the account's own sync, not the order's"
    assert updated.request_id is None
    assert (account_id, second) in [(a.root_id, a.asked_by_record_id) for a in _asks(stack)]
    posts = [e for e in emulator.request_log() if e.method == "POST" and "/customers/" in e.path]
    assert len(posts) == 1, "one customer update, by one writer"
