"""P7 on order sync: an order whose entry's Stripe price is out of date brings it up to date
first and then uses it, and the entry's price keeps one writer, the entry's own sync.

The order's sync waits: it asks the entry's root (root work on ``sync.roots`` whose ``then``
resumes the order), the entry's sync replaces the price (new price, lookup key moved, old one
archived), and the order is planned again and uses the new price.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import stripe

from consumer.sync.manual import request_sync
from cpqsync_sandbox.org.simulator import OrgSimulator
from cpqsync_sandbox.stripe_emulator import StripeEmulator
from schemas.codec import Codec
from schemas.models import RootWork, SyncStatus
from tests.bridge.kafka_read import read_topic
from tests.sync.stack import Stack, open_stack

pytestmark = pytest.mark.integration


@pytest.fixture
def stack(
    org: OrgSimulator, emulator: StripeEmulator, kafka: str, unique: Callable[[str], str]
) -> Iterator[Stack]:
    # No bridge: no change event reaches the sync, so the entry's own live sync never runs
    # and only the order's sync can bring its price up to date.
    yield from open_stack(org, emulator, kafka, unique("p7"))


def _client(emulator: StripeEmulator) -> stripe.StripeClient:
    return stripe.StripeClient(emulator.api_key, base_addresses={"api": emulator.api_base})


def _stale_entry_price(stack: Stack, entry: dict[str, Any]) -> str:
    """The entry synced earlier at 6500; Salesforce says 5000 now."""
    client = _client(stack.stripe)
    product = client.v1.products.create({"id": f"sf_{entry['Product2Id']}", "name": "Onboarding"})
    price = client.v1.prices.create(
        {
            "currency": "usd",
            "product": product.id,
            "unit_amount_decimal": "650000",
            "lookup_key": f"sf_pbe_{entry['Id']}",
            "metadata": {"salesforce_pricebook_entry_id": entry["Id"]},
        }
    )
    stack.org.update("PricebookEntry", entry["Id"], {"Stripe_ID__c": price.id})
    return str(price.id)


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
