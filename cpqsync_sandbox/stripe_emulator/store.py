"""The emulator's in-memory Stripe account: every object by kind and id.

All access happens on the emulator's event-loop thread (the Python API hops
onto it), so the store needs no locks.
"""

from __future__ import annotations

import random
import string
import time
from typing import Any

from cpqsync_sandbox.stripe_emulator.errors import resource_missing
from cpqsync_sandbox.stripe_emulator.event_log import (
    EVENT_PREFIX,
    SILENT_CREATE,
    STATUS_ACTIONS,
    EventLog,
    snapshot,
)

KINDS = (
    "customer",
    "product",
    "price",
    "billing.meter",
    "billing.meter_event",
    "subscription_schedule",
    "subscription",
    "invoice",
    "invoiceitem",
    "coupon",
    "discount",
    "test_helpers.test_clock",
    "payment_method",
    "webhook_endpoint",
)

# How Stripe names each kind in "No such …" messages.
LABELS = {
    "customer": "customer",
    "product": "product",
    "price": "price",
    "billing.meter": "billing meter",
    "billing.meter_event": "billing meter event",
    "subscription_schedule": "subscription schedule",
    "subscription": "subscription",
    "invoice": "invoice",
    "invoiceitem": "invoiceitem",
    "coupon": "coupon",
    "discount": "discount",
    "test_helpers.test_clock": "test clock",
    "payment_method": "PaymentMethod",
    "webhook_endpoint": "webhook endpoint",
}

_ALPHABET = string.ascii_letters + string.digits
_random = random.Random()


def new_id(prefix: str) -> str:
    """Stripe-looking ids (``price_1Q…``); unique enough for one emulator run."""
    return f"{prefix}_1" + "".join(_random.choices(_ALPHABET, k=23))


def base_object(kind: str, object_id: str, created: int) -> dict[str, Any]:
    return {"id": object_id, "object": kind, "livemode": False, "created": created}


class Store:
    def __init__(self) -> None:
        self.tables: dict[str, dict[str, dict[str, Any]]] = {}
        self.deleted: dict[str, dict[str, dict[str, Any]]] = {}
        self.lookup_keys: dict[str, str] = {}
        self.invoice_sequence = 0
        self.events = EventLog()
        self._by_customer: dict[str, list[tuple[str, str]]] = {}
        self.reset()

    def reset(self) -> None:
        self.tables = {kind: {} for kind in KINDS}
        self.deleted = {kind: {} for kind in KINDS}
        self.lookup_keys = {}
        self.invoice_sequence = 0
        self.events.clear()
        self._by_customer = {}

    def add(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.tables[obj["object"]][obj["id"]] = obj
        owner = obj["id"] if obj["object"] == "customer" else obj.get("customer")
        if isinstance(owner, str):
            self._by_customer.setdefault(owner, []).append((obj["object"], obj["id"]))
        if obj["object"] not in SILENT_CREATE:
            self.emit(obj, "created")
        return obj

    # Every change of an object records an Event: ``add`` and ``delete`` do so themselves;
    # code that changes a stored object takes ``before = store.snapshot(obj)`` first and
    # calls ``store.changed(obj, before)`` (or a named event such as "paid") after.
    snapshot = staticmethod(snapshot)

    def emit(
        self, obj: dict[str, Any], action: str, before: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        prefix = EVENT_PREFIX.get(obj["object"])
        if prefix is None:
            return None
        return self.events.record(f"{prefix}.{action}", obj, before=before, new_id=new_id)

    def changed(self, obj: dict[str, Any], before: dict[str, Any]) -> None:
        """``obj`` changed since ``before``: a new status Stripe names (invoice.paid,
        customer.subscription.deleted, …) records its own events, anything else *.updated."""
        status = obj.get("status")
        actions: tuple[str, ...] = ("updated",)
        if status != before.get("status"):
            actions = STATUS_ACTIONS.get(obj["object"], {}).get(str(status), actions)
        for action in actions:
            self.emit(obj, action, before)

    def customer_objects(self, customer_id: str) -> list[dict[str, Any]]:
        """The customer and every stored object that names it (subscriptions, invoices, …)."""
        found = [self.tables[kind].get(i) for kind, i in self._by_customer.get(customer_id, ())]
        return [obj for obj in found if obj is not None]

    def find(self, object_id: str) -> dict[str, Any] | None:
        """The stored object with this id, whatever its kind."""
        for table in self.tables.values():
            if object_id in table:
                return table[object_id]
        return None

    def get(self, kind: str, object_id: str) -> dict[str, Any] | None:
        return self.tables[kind].get(object_id)

    def require(
        self, kind: str, object_id: str, param: str = "id", *, status: int = 400
    ) -> dict[str, Any]:
        """The object or Stripe's ``No such …`` error (404 for path ids, 400 for parameters)."""
        obj = self.tables[kind].get(object_id)
        if obj is None:
            raise resource_missing(LABELS[kind], object_id, param, status=status)
        return obj

    def newest_first(self, kind: str) -> list[dict[str, Any]]:
        return list(reversed(self.tables[kind].values()))

    def delete(self, kind: str, object_id: str) -> dict[str, Any]:
        removed = self.tables[kind].pop(object_id, None)
        if removed is not None:
            self.emit(removed, "deleted")
        stub = {"id": object_id, "object": kind, "deleted": True}
        self.deleted[kind][object_id] = stub
        return stub

    def now(self, customer_id: str | None = None) -> int:
        """Time as the customer sees it: its test clock's frozen time, else the wall clock."""
        if customer_id is not None:
            customer = self.tables["customer"].get(customer_id)
            clock_id = customer.get("test_clock") if customer else None
            if clock_id:
                clock = self.tables["test_helpers.test_clock"].get(clock_id)
                if clock is not None:
                    return int(clock["frozen_time"])
        return int(time.time())
