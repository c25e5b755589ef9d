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
    "test_helpers.test_clock",
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
    "test_helpers.test_clock": "test clock",
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
        self.reset()

    def reset(self) -> None:
        self.tables = {kind: {} for kind in KINDS}
        self.deleted = {kind: {} for kind in KINDS}
        self.lookup_keys = {}
        self.invoice_sequence = 0

    def add(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.tables[obj["object"]][obj["id"]] = obj
        return obj

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
        self.tables[kind].pop(object_id, None)
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
