"""Events for changes no endpoint announces itself.

An endpoint or a test clock advance changes the object it names and, through it,
the customer's other objects (cancelling a subscription cancels its schedule).
``watch`` snapshots those objects first and afterwards records the events for each
one that changed and has not recorded events of its own meanwhile (invoices record
each step: created, finalized, paid). One place, so no endpoint can forget.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from cpqsync_sandbox.stripe_emulator.store import Store


def _scope(store: Store, object_ids: Iterable[str], customer_ids: Iterable[str]) -> list[Any]:
    found: dict[str, dict[str, Any]] = {}
    customers = set(customer_ids)
    for object_id in object_ids:
        obj = store.find(object_id)
        if obj is None:
            continue
        found[obj["id"]] = obj
        owner = obj["id"] if obj["object"] == "customer" else obj.get("customer")
        if isinstance(owner, str):
            customers.add(owner)
    for customer_id in customers:
        for obj in store.customer_objects(customer_id):
            found[obj["id"]] = obj
    return list(found.values())


@contextmanager
def watch(
    store: Store, object_ids: Iterable[str] = (), customer_ids: Iterable[str] = ()
) -> Iterator[None]:
    """Record events for what changes inside the block among the named objects and
    everything their customers own."""
    watched = _scope(store, object_ids, customer_ids)
    before = {obj["id"]: store.snapshot(obj) for obj in watched}
    mark = len(store.events.events)
    yield
    announced = {event["data"]["object"].get("id") for event in store.events.since(mark)}
    for obj in watched:
        if obj["id"] in announced or store.get(obj["object"], obj["id"]) is None:
            continue
        store.changed(obj, before[obj["id"]])
