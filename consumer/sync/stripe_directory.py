"""Process-wide memory of Stripe objects found by the names cpqsync gives them.

Idempotency keys expire after 24 hours, so before creating anything the sync must be able to
find what an earlier run created. These directories answer "which Stripe object belongs to this
Salesforce record?" cheaply: a customer by the ``salesforce_account_id`` metadata every
customer we create carries, a schedule by the ``salesforce_order_id`` metadata among its
customer's schedules, a product by its deterministic id, a meter by its deterministic event
name. Positive answers are kept (we never delete these objects); a miss is always asked
again, since another process may have created the object meanwhile.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import stripe

from consumer.sync.failures import StripeRejected
from consumer.sync.stripe_calls import StripeCaller, is_missing, to_plain

_PAGE = 100


ListCall = Callable[[stripe.StripeClient, dict[str, Any]], Any]


class MetadataIndex:
    """One list endpoint's objects (optionally filtered) by the value of one metadata key.

    Stripe's lists cannot filter by metadata and search is only eventually consistent (Stripe:
    never use it for read-after-write), so the index lists every object once and afterwards,
    on a miss, only those newer than the newest it has seen (lists run newest first;
    ``ending_before`` walks towards newer objects). Objects we create are added as we go.
    Concurrent misses share one refresh: a listing that started after a caller missed has
    seen everything that existed when it missed.
    """

    def __init__(
        self,
        caller: StripeCaller,
        list_call: ListCall,
        key: str,
        filters: dict[str, Any] | None = None,
    ) -> None:
        self._caller = caller
        self._list = list_call
        self._key = key
        self._filters = filters or {}
        self._lock = threading.Lock()
        self._objects: dict[str, dict[str, Any]] = {}
        self._newest: str | None = None
        self._scanned = False
        self._refresh_started = float("-inf")

    def find(self, value: str) -> dict[str, Any] | None:
        missed_at = time.monotonic()
        with self._lock:
            found = self._objects.get(value)
            if found is None and self._refresh_started < missed_at:
                self._refresh_started = time.monotonic()
                self._refresh()
                found = self._objects.get(value)
            return found

    def remember(self, obj: dict[str, Any]) -> None:
        value = (obj.get("metadata") or {}).get(self._key)
        if value:
            with self._lock:
                self._objects[str(value)] = obj

    def _refresh(self) -> None:
        incremental = self._scanned and self._newest is not None
        cursor_key = "ending_before" if incremental else "starting_after"
        params: dict[str, Any] = {**self._filters, "limit": _PAGE}
        if incremental:
            params[cursor_key] = self._newest

        def page_of(client: stripe.StripeClient) -> Any:
            return self._list(client, params)

        first = True
        while True:
            try:
                page = self._caller.call(page_of)
            except StripeRejected as error:
                if incremental and first and is_missing(error):
                    # The newest object we knew was deleted: start over with a full scan.
                    self._scanned, self._newest = False, None
                    self._refresh()
                    return
                raise
            for obj in page.data:
                plain = to_plain(obj)
                value = (plain.get("metadata") or {}).get(self._key)
                if value:
                    self._objects.setdefault(str(value), plain)
            if page.data and (incremental or first):
                self._newest = page.data[0].id
            first = False
            if not page.has_more or not page.data:
                break
            params[cursor_key] = page.data[0].id if incremental else page.data[-1].id
        self._scanned = True


class CustomerDirectory(MetadataIndex):
    """Account id -> customer, from the metadata every customer cpqsync creates carries."""

    def __init__(self, caller: StripeCaller, account_key: str) -> None:
        super().__init__(caller, lambda c, p: c.v1.customers.list(p), account_key)  # type: ignore[arg-type]


class ScheduleDirectory:
    """Customer id -> its subscription schedules by order id (one index per customer)."""

    def __init__(self, caller: StripeCaller, order_key: str) -> None:
        self._caller = caller
        self._key = order_key
        self._lock = threading.Lock()
        self._by_customer: dict[str, MetadataIndex] = {}

    def _index(self, customer_id: str) -> MetadataIndex:
        with self._lock:
            index = self._by_customer.get(customer_id)
            if index is None:
                index = self._by_customer[customer_id] = MetadataIndex(
                    self._caller,
                    lambda c, p: c.v1.subscription_schedules.list(p),  # type: ignore[arg-type]
                    self._key,
                    {"customer": customer_id},
                )
            return index

    def find(self, customer_id: str, order_id: str) -> dict[str, Any] | None:
        return self._index(customer_id).find(order_id)

    def remember(self, schedule: dict[str, Any]) -> None:
        customer = schedule.get("customer")
        if isinstance(customer, dict):
            customer = customer.get("id")
        if isinstance(customer, str):
            self._index(customer).remember(schedule)


class ProductDirectory:
    """Products known to exist (cpqsync never deletes one); a miss asks Stripe by id."""

    def __init__(self, caller: StripeCaller) -> None:
        self._caller = caller
        self._lock = threading.Lock()
        self._existing: set[str] = set()

    def exists(self, product_id: str) -> bool:
        with self._lock:
            if product_id in self._existing:
                return True
        try:
            self._caller.call(lambda c: c.v1.products.retrieve(product_id))
        except StripeRejected as error:
            if is_missing(error):
                return False
            raise
        self.remember(product_id)
        return True

    def remember(self, product_id: str) -> None:
        with self._lock:
            self._existing.add(product_id)


class MeterDirectory:
    """Billing meters by event name (unique among active meters in an account)."""

    def __init__(self, caller: StripeCaller) -> None:
        self._caller = caller
        self._lock = threading.Lock()
        self._by_event: dict[str, str] = {}

    def find(self, event_name: str) -> str | None:
        with self._lock:
            found = self._by_event.get(event_name)
            if found is None:
                self._refresh()
                found = self._by_event.get(event_name)
            return found

    def remember(self, event_name: str, meter_id: str) -> None:
        with self._lock:
            self._by_event[event_name] = meter_id

    def _refresh(self) -> None:
        meters = self._caller.call(
            lambda c: c.v1.billing.meters.list({"status": "active", "limit": _PAGE})
        )
        for meter in meters.auto_paging_iter():
            self._by_event[meter.event_name] = meter.id
