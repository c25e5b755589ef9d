"""Discrepancies the chaos runs found, each pinned by a deterministic reproduction.

Two were in the planner's P6 handling of a line's own price once an order already had a
schedule (consumer/sync/planning/orders.py, ``_line_price_ref``): the line's existing price was
dropped for the pricebook entry's as soon as the two matched again, and a line price an
interrupted attempt had created was reused without ever being archived. The third was in the
sync's results (consumer/sync/unmarked_objects.py): objects an interrupted attempt created were
never reported, so their records never got a Stripe id or a Success Sync Record.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import stripe
from confluent_kafka import Producer

from consumer.sync.dry_run import dry_run
from consumer.sync.results import reports_root
from consumer.sync.triggers import RecordRef
from cpqsync_sandbox.datasets import default_dataset
from cpqsync_sandbox.org.simulator import OrgSimulator
from cpqsync_sandbox.stripe_emulator import StripeEmulator
from schemas.models import SyncRequest, SyncResult, SyncStatus
from tests.sync.stack import Stack, open_stack, roots_reported, wait_for
from tests.writeback.support import wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def stack(kafka: str, unique: Callable[[str], str]) -> Iterator[Stack]:
    with (
        OrgSimulator(dataset=default_dataset()) as org,
        StripeEmulator() as stripe,
        contextmanager(open_stack)(org, stripe, kafka, unique("regress")) as opened,
    ):
        opened.start_bridge()
        opened.start_sync()
        yield opened


def _sync_acme_failing(stack: Stack, path: str) -> tuple[list[SyncResult], str]:
    """Sync the Acme order while POSTs to ``path`` fail three times (past the client's own
    retries, so an attempt fails part-way and the engine retries it)."""
    order = stack.org.dataset.id("order_acme")
    rules = stack.stripe.configure_faults(
        {"kind": "error", "method": "POST", "path": path, "rate": 1.0, "max_count": 3}
    )
    stack.org.activate_order(order)
    results = stack.wait_for_results(
        lambda rs: any(r.primary_record_id == order and r.status is SyncStatus.SUCCESS for r in rs),
        timeout=90,
    )
    assert rules[0].fired == 3
    return results, order


def test_entry_price_matching_the_line_again_leaves_the_synced_order_alone(stack: Stack) -> None:
    """Chaos run 1: 16 orders ended with 'Stripe Error: The price specified is inactive'.

    The onboarding line (5000) got its own price because the entry then said 5500; when the
    entry went back to 5000 the next sync switched the line to the entry's price and rewrote
    the schedule, re-sending the recurring lines' archived prices, which Stripe refuses.
    """
    org = stack.org
    order = org.dataset.id("order_acme")
    entry = org.dataset.id("onboarding_usd")
    org.update("PricebookEntry", entry, {"UnitPrice": 5500})
    org.activate_order(order)
    stack.wait_for_results(lambda rs: roots_reported(rs, [order]))

    org.update("PricebookEntry", entry, {"UnitPrice": 5000})
    org.update("Order", order, {"Description": "touched, so the order syncs again"})
    wait_for(lambda: len(stack.order_results(order)) >= 2, timeout=60)
    time.sleep(1)
    statuses = [(r.status, r.message) for r in stack.order_results(order)]
    assert all(status is SyncStatus.SUCCESS for status, _ in statuses), statuses
    assert len(stack.stripe.objects("subscription_schedule")) == 1


def test_a_line_price_left_active_by_an_interrupted_attempt_is_archived(stack: Stack) -> None:
    """Chaos run 1: 24 line prices stayed active (rule P6 archives them once used).

    An attempt created the line prices and the schedule, then failed archiving them; the retry
    found the schedule and its (active) line prices, reused them, and never archived them.
    """
    results, _ = _sync_acme_failing(stack, r"^/v1/prices/price_")
    stripe = stack.stripe
    line_prices = [
        p for p in stripe.objects("price") if "salesforce_order_item_id" in p["metadata"]
    ]
    assert line_prices, results
    assert [p["id"] for p in line_prices if p["active"]] == []


def test_objects_an_interrupted_attempt_created_are_still_reported(stack: Stack) -> None:
    """Chaos runs 1 and 2: a product in Stripe whose Product2 had no Stripe_ID__c and no
    Success Sync Record (rule R3).

    The first attempt created the customer, products and prices, then its schedule kept
    failing; the retry found them all in Stripe, planned nothing for them and so reported
    nothing for them.
    """
    org, stripe = stack.org, stack.stripe
    results, order = _sync_acme_failing(stack, r"^/v1/subscription_schedules$")
    reported = {
        (r.primary_object_type, r.primary_record_id): r.stripe_object_id
        for r in results
        if r.status is SyncStatus.SUCCESS
    }
    account = org.get("Order", order)["AccountId"]
    [customer] = stripe.objects("customer")
    assert reported.get(("Account", account)) == customer["id"]
    for product in stripe.objects("product"):
        assert (
            reported.get(("Product2", product["metadata"]["salesforce_product2_id"]))
            == (product["id"])
        )


def test_an_entry_price_changed_back_and_forth_keeps_one_active_price(stack: Stack) -> None:
    """Long run: 'missing: active price of PricebookEntry' after the workload moved the
    onboarding entry's price among a few values.

    Replacing a price (P7) sent a key made of the entry and the new parameters only; the
    second replacement with the same parameters (5500, then 5000, then 5500 again) got the
    first, long-archived 5500 price back from Stripe and then archived the current one.
    """
    org, stripe = stack.org, stack.stripe
    order = org.dataset.id("order_acme")  # its one-time line puts the entry's price in Stripe
    entry = org.dataset.id("onboarding_usd")
    org.activate_order(order)
    stack.wait_for_results(lambda rs: roots_reported(rs, [order]))

    def entry_results() -> int:
        return sum(1 for r in stack.results() if r.primary_record_id == entry and reports_root(r))

    for changes, price in enumerate((5500, 5000, 5500), start=1):
        org.update("PricebookEntry", entry, {"UnitPrice": price})
        wait_for(lambda n=changes: entry_results() >= n, timeout=60)  # type: ignore[misc]
    active = [
        p
        for p in stripe.objects("price")
        if p["metadata"].get("salesforce_pricebook_entry_id") == entry and p["active"]
    ]
    assert [(p["lookup_key"], p["unit_amount_decimal"]) for p in active] == [
        (f"sf_pbe_{entry}", "550000")
    ]


def test_a_line_on_its_entrys_price_keeps_it_while_the_entry_moves_on(stack: Stack) -> None:
    """Chaos CI run, this session: 11 line prices left active, each after a refused schedule
    update.

    The onboarding line (5000) uses its entry's price (5000). The entry then moved to 5500 in
    Salesforce, and the order synced again before the entry's replacement price existed in
    Stripe (or from a remembered entry price). The lookups left the entry's price out of the
    line prices the schedule uses, so the plan gave the line a price of its own and rewrote the
    schedule, which Stripe refused (it re-sends the other lines' archived prices); the new line
    price was never archived. The line's price has not changed: the order needs nothing.
    """
    org = stack.org
    order = org.dataset.id("order_acme")
    entry = org.dataset.id("onboarding_usd")
    org.activate_order(order)
    stack.wait_for_results(lambda rs: roots_reported(rs, [order]))
    stack.stop_syncs()  # the entry's change is not applied to Stripe meanwhile
    org.update("PricebookEntry", entry, {"UnitPrice": 5500})

    plan = dry_run(stack.settings, RecordRef("Order", order), with_lookup=True)
    assert plan.status == "ready", plan
    assert [(op.kind, op.id) for op in plan.operations] == []


def test_an_order_does_not_report_an_entry_price_another_member_replaced(stack: Stack) -> None:
    """Chaos CI run, this session: 'PricebookEntry.Stripe_ID__c is price_A, Stripe holds
    price_B' for two entries.

    An order's sync reports the pricebook prices it found in Stripe that its entries do not
    name yet. Its view of an entry's price may be older than the entry's Stripe_ID__c (this
    member remembered it; another replaced it meanwhile): reporting it wrote the archived
    price over the current one.
    """
    org, stripe_emulator = stack.org, stack.stripe
    order = org.dataset.id("order_acme")  # its onboarding line uses the entry's own price
    entry = org.dataset.id("onboarding_usd")
    org.activate_order(order)
    stack.wait_for_results(lambda rs: roots_reported(rs, [order]))
    [old] = [
        p
        for p in stripe_emulator.objects("price")
        if p["metadata"].get("salesforce_pricebook_entry_id") == entry
    ]
    # Another member replaces the entry's price (P7) and the writeback names the new one.
    client = stripe.StripeClient(
        api_key=stripe_emulator.api_key, base_addresses={"api": stripe_emulator.api_base}
    )
    new = client.v1.prices.create(
        {
            "currency": old["currency"],
            "product": old["product"],
            "unit_amount_decimal": old["unit_amount_decimal"],
            "lookup_key": old["lookup_key"],
            "transfer_lookup_key": True,
            "metadata": old["metadata"],
        }
    )
    client.v1.prices.update(old["id"], {"active": False})
    org.update("PricebookEntry", entry, {"Stripe_ID__c": new.id})

    org.update("Order", order, {"Description": "touched, so the order syncs again"})
    wait_for(lambda: len(stack.order_results(order)) >= 2, timeout=60)
    time.sleep(1)
    entry_ids = [r.stripe_object_id for r in stack.results() if r.primary_record_id == entry]
    assert old["id"] not in entry_ids[1:], entry_ids


def test_an_order_never_puts_back_an_entry_price_the_entry_replaced(stack: Stack) -> None:
    """Chaos CI run, this session: 'active price of PricebookEntry …: expected 650000,
    found 500000'.

    The entry's own sync replaced its 5000 price by 6500 (P7); an order that had read the
    entry before that change then replaced 6500 by 5000 again, and no later event set it
    right. Replacing an entry's price is the entry's own sync's job; the order's line, which
    no longer matches the entry's Stripe price, takes a price of its own.
    """
    org, stripe_emulator = stack.org, stack.stripe
    stack.stop_syncs()
    order = org.dataset.id("order_acme")
    entry = org.get("PricebookEntry", org.dataset.id("onboarding_usd"))
    client = stripe.StripeClient(
        api_key=stripe_emulator.api_key, base_addresses={"api": stripe_emulator.api_base}
    )
    product = client.v1.products.create({"id": f"sf_{entry['Product2Id']}", "name": "Onboarding"})
    newer = client.v1.prices.create(  # what the entry's sync made of a newer read (6500)
        {
            "currency": "usd",
            "product": product.id,
            "unit_amount_decimal": "650000",
            "lookup_key": f"sf_pbe_{entry['Id']}",
            "metadata": {"salesforce_pricebook_entry_id": entry["Id"]},
        }
    )
    org.activate_order(order)  # Salesforce, as this order reads it, still says 5000

    plan = dry_run(stack.settings, RecordRef("Order", order), with_lookup=True)
    assert plan.status == "ready", plan
    touching = [
        op.id
        for op in plan.operations
        if op.target == newer.id or op.params.get("transfer_lookup_key")
    ]
    assert touching == []
    onboarding = [
        op
        for op in plan.operations
        if op.kind == "price.create" and op.params.get("product") == product.id
    ]
    assert [(op.source.object_type, op.params["unit_amount_decimal"]) for op in onboarding] == [
        ("OrderItem", "500000")
    ]


def test_an_invoiced_order_still_reports_a_customer_no_record_names(stack: Stack) -> None:
    """Chaos CI run, 2026-12-06: a customer in Stripe whose Account had no Stripe_ID__c and no
    Success Sync Record (rule R3). An abandoned attempt (its partition revoked) created the
    customer and the invoice; the next owner found the order invoiced (O3), reported it up to
    date and nothing for the account. Reproduced by changing an invoiced order whose account
    has no Stripe id yet (this stack runs no writeback)."""
    org = stack.org
    order = org.dataset.id("order_initech")
    account = org.get("Order", order)["AccountId"]
    org.activate_order(order)
    stack.wait_for_results(
        lambda rs: any(r.primary_record_id == order and r.status is SyncStatus.SUCCESS for r in rs),
        timeout=90,
    )
    [customer] = stack.stripe.objects("customer")
    assert not org.get("Account", account).get("Stripe_ID__c")  # this stack has no writeback

    def account_reports(results: list[SyncResult]) -> list[SyncResult]:
        return [
            r for r in results if r.primary_record_id == account and r.status is SyncStatus.SUCCESS
        ]

    before = len(account_reports(stack.results()))
    org.update("Order", order, {"Description": "changed after it was invoiced"})
    results = stack.wait_for_results(
        lambda rs: (
            len(account_reports(rs)) > before
            and any("already up to date: invoice" in r.message for r in rs)
        ),
        timeout=90,
    )
    assert {r.stripe_object_id for r in account_reports(results)} == {customer["id"]}


def test_a_product_whose_retry_only_made_its_meter_is_still_reported_with_its_id(
    stack: Stack,
) -> None:
    """Chaos CI run with amendments, 2026-12-06: a metered product in Stripe whose Product2
    had a Success Sync Record but no Stripe_ID__c (rule R3). An interrupted attempt created the
    product; the retry found it, made only its meter, and reported the Product2 from the meter
    (which names no Stripe id, fix 14) — and since the meter's operation counted as reporting
    the Product2, the unmarked product was left out. Reproduced with the meter failing past
    the client's retries, so the first attempt stops right after the product. Through the
    writeback: what counts is the id on the Product2 (fix 21's results reached it only as a
    skipped duplicate)."""
    stack.start_writeback()
    org, stripe = stack.org, stack.stripe
    order = org.dataset.id("order_globex")
    rules = stripe.configure_faults(
        {"kind": "error", "method": "POST", "path": r"^/v1/billing/meters$", "rate": 1.0,
         "max_count": 3}
    )  # fmt: skip
    org.activate_order(order)
    results = stack.wait_for_results(
        lambda rs: any(r.primary_record_id == order and r.status is SyncStatus.SUCCESS for r in rs),
        timeout=90,
    )
    assert rules[0].fired == 3
    [meter] = stripe.objects("billing.meter")
    metered = next(
        p for p in stripe.objects("product") if meter["event_name"].endswith(p["id"][3:])
    )
    product2 = metered["metadata"]["salesforce_product2_id"]
    reported = {
        r.stripe_object_id
        for r in results
        if r.status is SyncStatus.SUCCESS and r.primary_record_id == product2
    }
    assert metered["id"] in reported, reported
    # One result per record and attempt (CI run, fix 21): the retry's meter-only result and its
    # report of the product, both under compound id product + order and usually stamped the
    # same millisecond, made the writeback take the report for a replay and skip it.
    mine = [r for r in results if r.primary_record_id == product2]
    assert [(r.secondary_record_id, r.stripe_object_id) for r in mine] == [
        (order, metered["id"])
    ], mine
    wait_until(
        lambda: org.get("Product2", product2).get("Stripe_ID__c") == metered["id"],
        60,
        f"Product2 {product2}.Stripe_ID__c to name {metered['id']}",
    )


def test_an_entry_synced_by_hand_reports_the_product_an_interrupted_order_made(
    stack: Stack,
) -> None:
    """Fix 18's gap through another root (fix 22): whoever needs a product first creates it,
    so an order's attempt may make a metered product and be interrupted before its meter and
    its results; when the pricebook entry's own sync (asked for by hand here) then made the
    meter and the price, it reported the Product2 from the meter alone, without the product's
    id, and nothing else ever reported it."""
    org, emulator = stack.org, stack.stripe
    entry = org.dataset.id("storage_usd")
    product2 = str(org.get("PricebookEntry", entry)["Product2Id"])
    # What the order's interrupted attempt left: the product, under its deterministic id.
    client = stripe.StripeClient(
        api_key=emulator.api_key, base_addresses={"api": emulator.api_base}
    )
    made = client.v1.products.create(
        {
            "id": f"sf_{product2}",
            "name": str(org.get("Product2", product2)["Name"]),
            "metadata": {"salesforce_product2_id": product2},
        }
    )
    request = SyncRequest(
        request_id=uuid.uuid4().hex,
        object_type="PricebookEntry",
        record_id=entry,
        requested_by="regression test",
        reason="sync the entry by hand",
    )
    topic = stack.topics.sync_requests
    producer = Producer({"bootstrap.servers": stack.kafka})
    producer.produce(topic, stack.codec.encode(request, topic), key=entry.encode())
    assert producer.flush(30) == 0
    results = stack.wait_for_results(
        lambda rs: any(r.primary_record_id == entry and r.status is SyncStatus.SUCCESS for r in rs),
        timeout=90,
    )
    assert len(emulator.objects("billing.meter")) == 1
    about = [r for r in results if r.primary_record_id == product2]
    assert [(r.status, r.stripe_object_id) for r in about] == [(SyncStatus.SUCCESS, made.id)]
