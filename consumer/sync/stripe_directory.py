"""Process-wide memory of Stripe objects found by the names cpqsync gives them.

Idempotency keys expire after 24 hours, so before creating anything the sync must be able to
find what an earlier run created. These directories answer "which Stripe object belongs to this
Salesforce record?" cheaply: a customer by the ``salesforce_account_id`` metadata every
customer we create carries, a product by its deterministic id, a meter by its deterministic
event name. Positive answers are kept (we never delete these objects); a miss is always asked
again, since another process may have created the object meanwhile.
"""

from __future__ import annotations

import threading
from typing import Any

import stripe

from consumer.sync.failures import StripeRejected
from consumer.sync.stripe_calls import StripeCaller, is_missing, to_plain

_PAGE = 100


class CustomerDirectory:
    """Account id -> customer id, learned by listing customers (newest first, incrementally).

    ``customers.list`` cannot filter by metadata and search is only eventually consistent
    (Stripe: never use it for read-after-write), so the directory lists every customer once and
    afterwards only those newer than the newest it has seen (``ending_before``).
    """

    def __init__(self, caller: StripeCaller, metadata_key: str) -> None:
        self._caller = caller
        self._key = metadata_key
        self._lock = threading.Lock()
        self._by_account: dict[str, str] = {}
        self._newest: str | None = None
        self._scanned = False

    def find(self, account_id: str) -> str | None:
        with self._lock:
            found = self._by_account.get(account_id)
            if found is None:
                self._refresh()
                found = self._by_account.get(account_id)
            return found

    def remember(self, account_id: str, customer_id: str) -> None:
        with self._lock:
            self._by_account[account_id] = customer_id

    def forget(self, account_id: str) -> None:
        with self._lock:
            self._by_account.pop(account_id, None)

    def _refresh(self) -> None:
        """List the customers created since the last refresh (all of them the first time).

        Lists run newest first; ``ending_before`` pages walk towards newer customers, so the
        newest id seen is the first of the first page of a full scan, or of every page of an
        incremental one.
        """
        incremental = self._scanned and self._newest is not None
        cursor_key = "ending_before" if incremental else "starting_after"
        params: dict[str, Any] = {"limit": _PAGE}
        if incremental:
            params[cursor_key] = self._newest

        def page_of(client: stripe.StripeClient) -> Any:
            return client.v1.customers.list(params)  # type: ignore[arg-type]

        first = True
        while True:
            try:
                page = self._caller.call(page_of)
            except StripeRejected as error:
                if incremental and first and is_missing(error):
                    # The newest customer we knew was deleted: start over with a full scan.
                    self._scanned, self._newest = False, None
                    self._refresh()
                    return
                raise
            for customer in page.data:
                self._learn(customer)
            if page.data and (incremental or first):
                self._newest = page.data[0].id
            first = False
            if not page.has_more or not page.data:
                break
            params[cursor_key] = page.data[0].id if incremental else page.data[-1].id
        self._scanned = True

    def _learn(self, customer: stripe.Customer) -> None:
        metadata = to_plain(customer).get("metadata") or {}
        account_id = metadata.get(self._key)
        if account_id:
            self._by_account.setdefault(str(account_id), customer.id)


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
