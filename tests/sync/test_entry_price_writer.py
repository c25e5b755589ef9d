"""P7 on order sync: an order whose entry's Stripe price is out of date brings it up to date
first and then uses it, and the entry's price keeps one writer, the entry's own sync.

The order's sync waits: it asks the entry's root (root work on ``sync.roots`` whose ``then``
resumes the order), the entry's sync replaces the price (new price, lookup key moved, old one
archived), and the order is planned again and uses the new price.

Nothing of a waiting order is ever lost: it is resumed when its entry's sync ends, whatever
the outcome (dead-lettered too), on whichever member owns the entry then, also when the wait
comes from a retry (an attempt Stripe refused for an archived remembered price, fix 7) and
while members join and leave.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import stripe

from consumer.sync.manual import request_sync
from cpqsync_sandbox.datasets import default_dataset
from cpqsync_sandbox.org.simulator import OrgSimulator
from cpqsync_sandbox.stripe_emulator import FaultRule, StripeEmulator
from schemas.codec import Codec
from schemas.models import RootWork, SyncStatus
from tests.bridge.kafka_read import read_topic
from tests.sync.stack import Events, Stack, open_stack, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def stack(
    org: OrgSimulator, emulator: StripeEmulator, kafka: str, unique: Callable[[str], str]
) -> Iterator[Stack]:
    # No bridge: only the change events a test publishes reach the sync (never the entry's
    # own), so only the order's sync can bring the entry's price up to date.
    yield from open_stack(org, emulator, kafka, unique("p7"))


def _client(emulator: StripeEmulator) -> stripe.StripeClient:
    return stripe.StripeClient(emulator.api_key, base_addresses={"api": emulator.api_base})


def _stale_entry_price(stack: Stack, entry: dict[str, Any]) -> str:
    """The entry synced earlier at 6500; Salesforce says 5000 now."""
    _client(stack.stripe).v1.products.create(
        {"id": f"sf_{entry['Product2Id']}", "name": "Onboarding"}
    )
    return _entry_price(stack, entry, 650_000, None)


def _prices_used(schedule: dict[str, Any]) -> set[str]:
    used = set()
    for phase in schedule["phases"]:
        for item in [*phase.get("items", []), *phase.get("add_invoice_items", [])]:
            price = item.get("price")
            used.add(price["id"] if isinstance(price, dict) else price)
    return used


def test_an_order_waits_for_its_entry_to_replace_an_out_of_date_price_then_uses_it(
    stack: Stack, org: OrgSimulator, emulator: StripeEmulator
) -> None:
    order = org.dataset.id("order_acme")  # its onboarding line uses the entry's own price
    entry = org.get("PricebookEntry", org.dataset.id("onboarding_usd"))
    assert entry["UnitPrice"] == 5000
    stale = _stale_entry_price(stack, entry)
    org.activate_order(order)
    stack.start_sync()

    answer = request_sync(
        stack.settings.kafka, stack.kafka, order, object_type="Order", requested_by="cli:test"
    )
    assert answer.root is not None and answer.root.status is SyncStatus.SUCCESS, answer

    client = _client(emulator)
    current = client.v1.prices.list({"lookup_keys": [f"sf_pbe_{entry['Id']}"]}).data
    assert [(str(p.unit_amount_decimal), p.active) for p in current] == [("500000", True)]
    assert client.v1.prices.retrieve(stale).active is False
    [schedule] = [s for s in emulator.objects("subscription_schedule")]
    assert current[0].id in _prices_used(schedule), "the order uses the entry's new price"
    own = [
        p
        for p in emulator.objects("price")
        if p["metadata"].get("salesforce_order_item_id") and p["product"] == current[0].product
    ]
    assert own == [], "no price of its own for a line that matches its entry"

    # The entry's price was replaced by the entry's own sync, reported as the entry's.
    entry_results = [r for r in stack.results() if r.primary_record_id == entry["Id"]]
    assert (entry_results[0].secondary_record_id, entry_results[0].stripe_object_id) == (
        None,
        current[0].id,
    )
    # (The order may report it too, for Stripe_ID__c: no writeback runs here to write it.)
    assert {r.stripe_object_id for r in entry_results} == {current[0].id}
    topic = stack.topics.sync_roots
    works = [Codec().decode_as(r.value, topic, RootWork) for r in read_topic(stack.kafka, topic)]
    asked = [w for w in works if w.record_id == entry["Id"]]
    assert [(w.asked_by_record_id, w.then is not None) for w in asked] == [(order, True)]
    assert [w.waited_for for w in works if w.record_id == order] == [[], [entry["Id"]]]


def _changed(stack: Stack, object_type: str, record_id: str, values: dict[str, Any]) -> None:
    """A change event on the object's topic, as the bridge would publish it."""
    events = Events(stack.kafka, stack.topics)
    events.changed(object_type, record_id, values)
    events.flush()


def _entry_price(stack: Stack, entry: dict[str, Any], cents: int, replaces: str | None) -> str:
    """An entry price in Stripe as the entry's own sync makes it (lookup key, metadata)."""
    client = _client(stack.stripe)
    params: dict[str, Any] = {
        "currency": "usd",
        "product": f"sf_{entry['Product2Id']}",
        "unit_amount_decimal": str(cents),
        "lookup_key": f"sf_pbe_{entry['Id']}",
        "metadata": {"salesforce_pricebook_entry_id": entry["Id"]},
    }
    if replaces is not None:
        params["transfer_lookup_key"] = True
    price = client.v1.prices.create(params)  # type: ignore[arg-type]
    if replaces is not None:
        client.v1.prices.update(replaces, {"active": False})
    stack.org.update("PricebookEntry", entry["Id"], {"Stripe_ID__c": price.id})
    return str(price.id)


def _works(stack: Stack) -> list[RootWork]:
    topic = stack.topics.sync_roots
    codec = Codec()
    return [codec.decode_as(r.value, topic, RootWork) for r in read_topic(stack.kafka, topic)]


def _remembered_then_replaced(stack: Stack, entry: dict[str, Any]) -> str:
    """The sync remembers the entry's 5000 price; then the entry's price moves on in Stripe
    (to 6500, as the entry's own sync of a change since undone in Salesforce would leave it)
    while Salesforce says 5000 again. Returns the 6500 price."""
    _client(stack.stripe).v1.products.create(
        {"id": f"sf_{entry['Product2Id']}", "name": "Onboarding"}
    )
    old = _entry_price(stack, entry, 500_000, None)
    _changed(stack, "PricebookEntry", entry["Id"], {"UnitPrice": 5000})
    # The entry's own sync finds its price in sync and remembers it (nothing to report).
    wait_for(
        lambda: any(
            w.record_id == entry["Id"] and w.asked_by_record_id is None for w in _works(stack)
        ),
        timeout=30,
    )
    wait_for(lambda: stack._syncs[0].engines[1].buffered == 0, timeout=30)
    return _entry_price(stack, entry, 650_000, old)


def _refused_inactive(stack: Stack) -> int:
    """Schedule creates Stripe refused for naming an archived price."""
    return sum(
        1
        for r in stack.stripe.request_log()
        if r.path == "/v1/subscription_schedules" and r.status == 400
    )


def _order_synced_on_entry_price(stack: Stack, order: str, entry_id: str) -> str:
    """The order's Success, and the entry's current price, which the order's schedule uses."""
    results = stack.wait_for_results(
        lambda rs: any(r.primary_record_id == order and r.status is SyncStatus.SUCCESS for r in rs),
        timeout=90,
    )
    assert not [r for r in results if r.primary_record_id == order and r.status is SyncStatus.ERROR]
    client = _client(stack.stripe)
    [current] = client.v1.prices.list({"lookup_keys": [f"sf_pbe_{entry_id}"]}).data
    assert (str(current.unit_amount_decimal), current.active) == ("500000", True)
    [schedule] = stack.stripe.objects("subscription_schedule")
    assert current.id in _prices_used(schedule)
    return str(current.id)


def test_an_order_whose_retry_waits_for_its_entry_is_resumed_and_synced(
    stack: Stack, org: OrgSimulator
) -> None:
    order = org.dataset.id("order_acme")  # its onboarding line is on the entry's own price
    entry = org.get("PricebookEntry", org.dataset.id("onboarding_usd"))
    stack.start_sync()
    _remembered_then_replaced(stack, entry)

    org.activate_order(order)
    _changed(stack, "Order", order, {"Status": "Activated"})

    _order_synced_on_entry_price(stack, order, entry["Id"])
    assert _refused_inactive(stack) == 1, "attempt 1 was refused on the remembered price"
    works = _works(stack)
    asked = [w for w in works if w.record_id == entry["Id"] and w.then is not None]
    assert [w.asked_by_record_id for w in asked] == [order], "the order waited for the entry"
    assert [w.waited_for for w in works if w.record_id == order] == [[], [entry["Id"]]]


GENERATED = 40


@pytest.fixture
def busy_org() -> Iterator[OrgSimulator]:
    with OrgSimulator(dataset=default_dataset(), generated_orders=GENERATED) as sim:
        yield sim


@pytest.fixture
def busy_stack(
    busy_org: OrgSimulator, emulator: StripeEmulator, kafka: str, unique: Callable[[str], str]
) -> Iterator[Stack]:
    yield from open_stack(busy_org, emulator, kafka, unique("p7churn"))


def _one_time_entries(org: OrgSimulator, order: str) -> set[str]:
    soql = f"SELECT PricebookEntryId, SBQQ__ChargeType__c FROM OrderItem WHERE OrderId = '{order}'"
    return {
        str(r["PricebookEntryId"])
        for r in org.query(soql).records
        if r["SBQQ__ChargeType__c"] == "One-Time"
    }


def test_orders_that_wait_for_entries_all_sync_while_members_join_and_leave(
    busy_stack: Stack, busy_org: OrgSimulator
) -> None:
    stack, org = busy_stack, busy_org
    generated = [
        str(r["Id"])
        for r in org.store.records("Order")
        if str(r.get("Name", "")).startswith("Generated order")
    ]
    waiting = [o for o in generated if _one_time_entries(org, o)]
    assert len(waiting) >= 8, "the generated orders include one-time lines on entry prices"
    entries = {e: org.get("PricebookEntry", e) for o in waiting for e in _one_time_entries(org, o)}
    client = _client(stack.stripe)
    for entry in entries.values():
        # Each entry's Stripe price is out of date (20 more than Salesforce says): every order
        # with a one-time line waits for the entry's own sync.
        product = f"sf_{entry['Product2Id']}"
        if not [p for p in stack.stripe.objects("product") if p["id"] == product]:
            client.v1.products.create({"id": product, "name": "One-time"})
        _entry_price(stack, entry, int(entry["UnitPrice"] * 100) + 2000, None)
    stack.stripe.set_latency(distribution="uniform", low_ms=5, high_ms=60)

    members = [stack.start_sync(), stack.start_sync()]
    for order in generated:
        org.activate_order(order)
        _changed(stack, "Order", order, {"Status": "Activated"})
    # Members join and leave while the asks and resumes are under way.
    members.append(stack.start_sync())
    stack.stop_sync(members.pop(0))
    members.append(stack.start_sync())
    stack.stop_sync(members.pop(0))

    results = stack.wait_for_results(
        lambda rs: (
            {r.primary_record_id for r in rs if r.status is SyncStatus.SUCCESS} >= set(generated)
        ),
        timeout=180,
    )
    assert not [r for r in results if r.status is SyncStatus.ERROR]
    works = _works(stack)
    waited = {w.asked_by_record_id for w in works if w.then is not None}
    assert waited & set(waiting), "orders waited for their entries"
    current = {e: client.v1.prices.list({"lookup_keys": [f"sf_pbe_{e}"]}).data for e in entries}
    for entry_id, prices in current.items():
        assert [(str(p.unit_amount_decimal), p.active) for p in prices] == [
            (str(int(entries[entry_id]["UnitPrice"] * 100)), True)
        ]
    schedules = stack.stripe.objects("subscription_schedule")
    for order in waiting:
        [schedule] = [s for s in schedules if s["metadata"]["salesforce_order_id"] == order]
        used = _prices_used(schedule)
        assert {current[e][0].id for e in _one_time_entries(org, order)} <= used, order


def test_an_order_waiting_on_an_entry_whose_sync_is_dead_lettered_still_syncs(
    stack: Stack, org: OrgSimulator
) -> None:
    order = org.dataset.id("order_acme")
    entry = org.get("PricebookEntry", org.dataset.id("onboarding_usd"))
    _stale_entry_price(stack, entry)
    # Every attempt of the entry's own sync fails on its price create with a 500 Stripe says
    # not to retry (one request's trouble, not an outage), until its attempts run out and it
    # is dead-lettered; the order's own price creates after that go through.
    stack.stripe.configure_faults(
        FaultRule(
            kind="error",
            method="POST",
            path="^/v1/prices$",
            rate=1.0,
            should_retry=False,
            max_count=stack.settings.consumer.max_attempts,
        )
    )
    stack.start_sync()
    org.activate_order(order)
    _changed(stack, "Order", order, {"Status": "Activated"})

    results = stack.wait_for_results(
        lambda rs: any(r.primary_record_id == order and r.status is SyncStatus.SUCCESS for r in rs),
        timeout=90,
    )
    assert not [
        r for r in results if r.primary_record_id == order and r.status is not SyncStatus.SUCCESS
    ]
    topic = stack.topics.dlq
    letters = [
        Codec().decode_as(r.value, stack.topics.sync_roots, RootWork)
        for r in read_topic(stack.kafka, topic)
    ]
    assert [(w.record_id, w.then.record_id if w.then else None) for w in letters] == [
        (entry["Id"], order)
    ], "the entry's asked sync is kept for a redrive"
    # The entry's price is still out of date, so the order's line has a price of its own (P6).
    [schedule] = stack.stripe.objects("subscription_schedule")
    [onboarding] = [
        item["price"]
        for phase in schedule["phases"]
        for item in phase.get("add_invoice_items", [])
        if item["metadata"]["salesforce_order_item_id"] == org.dataset.id("acme_onboarding_line")
    ]
    price = _client(stack.stripe).v1.prices.retrieve(
        onboarding["id"] if isinstance(onboarding, dict) else onboarding
    )
    assert (str(price.unit_amount_decimal), price.lookup_key) == ("500000", None)


def test_an_order_waiting_on_an_entry_is_resumed_by_the_member_that_takes_the_entry_over(
    stack: Stack, org: OrgSimulator
) -> None:
    order = org.dataset.id("order_acme")
    entry = org.get("PricebookEntry", org.dataset.id("onboarding_usd"))
    _stale_entry_price(stack, entry)
    # The entry's own sync keeps failing (a transient of its one request) while the member
    # that asked it leaves: its retry is dropped with the partition, and the next member
    # must run the asked sync, and resume the order, from the uncommitted ask.
    [failing] = stack.stripe.configure_faults(
        FaultRule(kind="error", method="POST", path="^/v1/prices$", rate=1.0, should_retry=False)
    )
    # Attempts enough that the asked sync is still retrying when its member leaves.
    consumer = stack.settings.consumer.model_copy(update={"max_attempts": 100})
    stack.settings = stack.settings.model_copy(update={"consumer": consumer})
    first = stack.start_sync()
    org.activate_order(order)
    _changed(stack, "Order", order, {"Status": "Activated"})
    wait_for(lambda: failing.fired >= 1, timeout=60)
    stack.stop_sync(first)
    assert not [r for r in stack.results() if r.primary_record_id == order]
    stack.stripe.configure_faults()
    stack.start_sync()

    _order_synced_on_entry_price(stack, order, entry["Id"])
    asked = [w for w in _works(stack) if w.record_id == entry["Id"] and w.then is not None]
    assert [w.asked_by_record_id for w in asked] == [order], "asked once, run by the next member"


def _invoice_prices(stack: Stack, order: str) -> set[str]:
    """The prices of the invoice items billed for ``order``'s lines (O3)."""
    lines = {
        str(r["Id"])
        for r in stack.org.query(f"SELECT Id FROM OrderItem WHERE OrderId = '{order}'").records
    }
    return {
        str((item["pricing"]["price_details"] or {}).get("price"))
        for item in stack.stripe.objects("invoiceitem")
        if item["metadata"].get("salesforce_order_item_id") in lines
    }


def test_an_order_waiting_on_two_entries_is_resumed_once_after_both_while_members_change(
    stack: Stack, org: OrgSimulator
) -> None:
    # Initech's order has two one-time lines on two entries: training (1,200) and onboarding
    # (4,500, which its entry says too once changed). Both entries' Stripe prices are out of
    # date, so the order waits for both entries' own syncs, one after the other.
    order = org.dataset.id("order_initech")
    org.update("PricebookEntry", org.dataset.id("onboarding_usd"), {"UnitPrice": 4500})
    entries = [
        org.get("PricebookEntry", org.dataset.id(ref)) for ref in ("training_usd", "onboarding_usd")
    ]
    client = _client(stack.stripe)
    stale = {}
    for entry in entries:
        client.v1.products.create({"id": f"sf_{entry['Product2Id']}", "name": "One-time"})
        stale[entry["Id"]] = _entry_price(stack, entry, int(entry["UnitPrice"] * 100) + 2000, None)
    members = [stack.start_sync(), stack.start_sync()]
    org.activate_order(order)
    _changed(stack, "Order", order, {"Status": "Activated"})
    # A member joins and another leaves while the order waits: the asks and the resume may be
    # handled by other members than the ones that produced them.
    wait_for(lambda: any(w.then is not None for w in _works(stack)), timeout=60)
    members.append(stack.start_sync())
    stack.stop_sync(members.pop(0))

    results = stack.wait_for_results(
        lambda rs: any(r.primary_record_id == order and r.status is SyncStatus.SUCCESS for r in rs),
        timeout=120,
    )
    assert not [r for r in results if r.primary_record_id == order and r.status is SyncStatus.ERROR]
    current = {}
    for entry in entries:
        prices = client.v1.prices.list({"lookup_keys": [f"sf_pbe_{entry['Id']}"]}).data
        assert [(str(p.unit_amount_decimal), p.active) for p in prices] == [
            (str(int(entry["UnitPrice"] * 100)), True)
        ]
        assert client.v1.prices.retrieve(stale[entry["Id"]]).active is False
        current[entry["Id"]] = prices[0].id
    assert _invoice_prices(stack, order) == set(current.values()), "the entries' new prices"
    assert len(stack.stripe.objects("invoice")) == 1
    works = _works(stack)
    asked = [w for w in works if w.then is not None]
    assert sorted(w.record_id for w in asked) == sorted(current), "each entry asked once"
    assert [sorted(w.waited_for) for w in works if w.record_id == order] == [
        [],
        sorted(current),
    ], "resumed once, after both entries"
