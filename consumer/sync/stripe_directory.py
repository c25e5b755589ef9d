"""Process-wide memory of Stripe objects found by the names cpqsync gives them.

Idempotency keys expire after 24 hours, so before creating anything the sync must be able to
find what an earlier run created. These directories answer "which Stripe object belongs to this
Salesforce record?" cheaply: a customer by the ``salesforce_account_id`` metadata every
customer we create carries, a schedule by the ``salesforce_order_id`` metadata among its
customer's schedules, a product by its deterministic id, a meter by its deterministic event
name. Positive answers are kept (we never delete these objects); a miss is always asked
again, since another process may have created the object meanwhile.

Pricebook prices (by lookup key) are the exception: a price can be archived or lose its lookup
key to a replacement (P7) in another process, so found prices are kept for a few minutes only
(``PRICE_TTL_S``, far inside Stripe's 24-hour idempotency window, which still covers what a
stale entry could make us send) and dropped when a sync that used them fails.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

import stripe

from consumer.sync.failures import StripeRejected
from consumer.sync.key_flights import KeyFlights
from consumer.sync.stripe_calls import StripeCaller, is_missing, to_plain

_PAGE = 100
_LOOKUP_KEYS_PER_CALL = 10  # Stripe's limit for prices.list(lookup_keys=...)
PRICE_TTL_S = 300.0


ListCall = Callable[[stripe.StripeClient, dict[str, Any]], Any]


class MetadataIndex:
    """One list endpoint's objects (optionally filtered) by the value of one metadata key.

    Stripe's lists cannot filter by metadata and search is only eventually consistent (Stripe:
    never use it for read-after-write), so the index lists every object once and afterwards,
    on a miss, only those newer than the newest it has seen (lists run newest first;
    ``ending_before`` walks towards newer objects). Objects we create are added as we go.
    Concurrent misses share one refresh: a listing that started after a caller missed has
    seen everything that existed when it missed. Hits never wait for a refresh.
    """

    def __init__(
        self,
        caller: StripeCaller,
        list_call: ListCall,
        key: str,
        filters: dict[str, Any] | None = None,
        *,
        slim: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        newest_wins: bool = False,
    ) -> None:
        """``slim`` keeps only what callers need of each listed object (memory, for indexes
        over many objects). Several objects with one value: the first listed is kept, or with
        ``newest_wins`` the most recently created."""
        self._caller = caller
        self._list = list_call
        self._key = key
        self._filters = filters or {}
        self._slim = slim
        self._newest_wins = newest_wins
        self._lock = threading.Lock()  # guards the objects
        self._refreshing = threading.Lock()  # one listing at a time
        self._objects: dict[str, dict[str, Any]] = {}
        self._newest: str | None = None
        self._scanned = False
        self._refresh_started = float("-inf")
        self.refreshes = 0

    def find(self, value: str) -> dict[str, Any] | None:
        return self.find_many([value]).get(value)

    def find_many(self, values: Collection[str]) -> dict[str, dict[str, Any]]:
        """The objects found for ``values``; all the misses share one refresh."""
        missed_at = time.monotonic()
        with self._lock:
            found = {v: obj for v in values if (obj := self._objects.get(v)) is not None}
        if len(found) == len(values):
            return found
        with self._refreshing:
            if self._refresh_started < missed_at:
                self._refresh_started = time.monotonic()
                self.refreshes += 1
                self._refresh()
            with self._lock:
                return {v: obj for v in values if (obj := self._objects.get(v)) is not None}

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
                    kept = self._slim(plain) if self._slim is not None else plain
                    with self._lock:
                        current = self._objects.get(str(value))
                        if current is None or (
                            self._newest_wins and kept.get("created", 0) > current.get("created", 0)
                        ):
                            self._objects[str(value)] = kept
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
    """Order id -> its subscription schedule, one index over the account's schedules.

    One index rather than one per customer, so that every new order's miss, whatever its
    customer, shares the next incremental listing: at 20 new orders a second that is a few
    listings a second instead of nearly one per order. The price is one full listing (a page
    per 100 schedules) the first time a process misses.
    """

    def __init__(self, caller: StripeCaller, order_key: str) -> None:
        self._index = MetadataIndex(
            caller,
            lambda c, p: c.v1.subscription_schedules.list(p),  # type: ignore[arg-type]
            order_key,
        )

    @property
    def refreshes(self) -> int:
        return self._index.refreshes

    def find(self, customer_id: str, order_id: str) -> dict[str, Any] | None:
        """The order's schedule, if it belongs to ``customer_id``."""
        return self.find_many({order_id: customer_id}).get(order_id)

    def find_many(self, customers: Mapping[str, str]) -> dict[str, dict[str, Any]]:
        """Order id -> its schedule, for orders (given with their customer id) that have one
        belonging to that customer. One refresh at most, however many orders miss."""
        found = self._index.find_many(list(customers))
        return {
            order_id: schedule
            for order_id, schedule in found.items()
            if _customer_of(schedule) == customers[order_id]
        }

    def remember(self, schedule: dict[str, Any]) -> None:
        self._index.remember(schedule)


def _customer_of(obj: Mapping[str, Any]) -> str | None:
    customer = obj.get("customer")
    if isinstance(customer, Mapping):
        customer = customer.get("id")
    return customer if isinstance(customer, str) else None


class LinePriceDirectory:
    """Order item id -> the newest line price made for it, from one index over all prices.

    What a crash can leave behind: an attempt that created a line's own price and died before
    the schedule. A first sync of an order (no schedule found) asks here rather than listing
    each product's active prices for every new order (1.75 requests per order at 20 orders/s,
    more than the budget left). Misses share incremental listings, as schedules do; the price
    of it is one full listing of the account's prices when a process first misses. Only ids
    are kept: a candidate's current state (active or not, tiers) must be retrieved."""

    def __init__(self, caller: StripeCaller, item_key: str) -> None:
        self._index = MetadataIndex(
            caller,
            lambda c, p: c.v1.prices.list(p),  # type: ignore[arg-type]
            item_key,
            slim=lambda price: {
                "id": price["id"],
                "created": price.get("created", 0),
                "metadata": {item_key: (price.get("metadata") or {}).get(item_key)},
            },
            newest_wins=True,
        )

    def find_many(self, item_ids: Collection[str]) -> dict[str, str]:
        """Order item id -> price id, for the items some line price was ever made for."""
        return {item: str(p["id"]) for item, p in self._index.find_many(item_ids).items()}


class PriceDirectory:
    """Prices by lookup key, and lookup keys known to have none, kept ``ttl_s`` seconds."""

    def __init__(
        self,
        caller: StripeCaller,
        *,
        ttl_s: float = PRICE_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._caller = caller
        self._ttl = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        # lookup key -> (when Stripe said so, the price or None for "no price has this key")
        self._by_key: dict[str, tuple[float, dict[str, Any] | None]] = {}
        self._flights = KeyFlights()

    def find(
        self, lookup_keys: Collection[str], *, fresh: bool = False
    ) -> tuple[dict[str, dict[str, Any]], bool]:
        """(lookup key -> price with its tiers, for the keys that have one; whether any of
        that answer came from memory rather than from Stripe just now).

        ``fresh`` asks Stripe for every key. A retry needs that: ``forget`` alone does not
        keep memory out of it, since the roots synced side by side with the refused one go on
        teaching the memory (a replayed create answers with the price as it was when first
        created, active and holding its lookup key, however long ago another process archived
        it), so the re-plan got the same stale price and was refused for good."""
        now = self._clock()
        found, known = ({}, set()) if fresh else self._recall(lookup_keys, now)
        missing = sorted(set(lookup_keys) - known)
        if missing and not fresh:
            # Keys other batches are asking for right now are waited for, not asked again;
            # their answers count as remembered (a refusal then re-plans from a fresh lookup).
            with self._flights.claim(missing) as (mine, theirs):
                self._ask(mine, found, now)
            unanswered = KeyFlights.wait(theirs)
            shared, shared_known = self._recall(set(theirs) - set(unanswered), now)
            found.update(shared)
            known |= shared_known
            missing = sorted(set(theirs) - shared_known)
        self._ask(missing, found, now)
        return found, bool(known)

    def _recall(
        self, lookup_keys: Collection[str], now: float
    ) -> tuple[dict[str, dict[str, Any]], set[str]]:
        """(the remembered prices, every key remembered with or without a price)."""
        found: dict[str, dict[str, Any]] = {}
        known: set[str] = set()
        with self._lock:
            for key in lookup_keys:
                cached = self._by_key.get(key)
                if cached is not None and now - cached[0] < self._ttl:
                    known.add(key)
                    if cached[1] is not None:
                        found[key] = cached[1]
        return found, known

    def _ask(self, lookup_keys: list[str], found: dict[str, dict[str, Any]], now: float) -> None:
        for start in range(0, len(lookup_keys), _LOOKUP_KEYS_PER_CALL):
            chunk = lookup_keys[start : start + _LOOKUP_KEYS_PER_CALL]
            params: dict[str, Any] = {"lookup_keys": chunk, "limit": 100, "expand": ["data.tiers"]}
            page = self._caller.call(lambda c, p=params: c.v1.prices.list(p))  # type: ignore[misc]
            listed = {}
            for price in page.data:
                plain = to_plain(price)
                if plain.get("lookup_key") in chunk:
                    listed[str(plain["lookup_key"])] = plain
            found.update(listed)
            for key in chunk:
                self._store(key, listed.get(key), now)

    def remember(self, price: Mapping[str, Any]) -> None:
        """A price as a write just returned it (created or updated)."""
        now = self._clock()
        key = price.get("lookup_key")
        # A write's answer omits a tiered price's tiers unless expanded; the planner compares
        # them, so such a price is left for the next lookup to fetch whole.
        whole = price.get("billing_scheme") != "tiered" or bool(price.get("tiers"))
        with self._lock:
            for old_key, (_, old) in list(self._by_key.items()):
                moved = old_key != key or not whole  # its lookup key moved on (or was removed)
                if old is not None and old.get("id") == price.get("id") and moved:
                    del self._by_key[old_key]
            if key:
                if whole:
                    self._by_key[str(key)] = (now, dict(price))
                else:
                    self._by_key.pop(str(key), None)

    def forget(self) -> bool:
        """Drop everything; whether there was anything to drop."""
        with self._lock:
            had = bool(self._by_key)
            self._by_key.clear()
            return had

    def _store(self, key: str, price: dict[str, Any] | None, seen_at: float) -> None:
        with self._lock:
            current = self._by_key.get(key)
            # A listing that started before a write must not undo what the write taught us.
            if current is None or current[0] <= seen_at:
                self._by_key[key] = (seen_at, price)


class ProductDirectory:
    """Products known to exist (cpqsync never deletes one); misses are asked of Stripe by id,
    a batch's at once (``products.list(ids=...)``), or answered by a batch asking already."""

    def __init__(self, caller: StripeCaller) -> None:
        self._caller = caller
        self._lock = threading.Lock()
        self._existing: set[str] = set()
        self._flights = KeyFlights()

    def exists(self, product_id: str) -> bool:
        return product_id in self.existing([product_id])

    def existing(self, product_ids: Collection[str]) -> set[str]:
        """Those of ``product_ids`` that exist in Stripe."""
        with self._lock:
            found = {p for p in product_ids if p in self._existing}
        missing = sorted(set(product_ids) - found)
        if not missing:
            return found
        # Ids other batches are asking for right now are waited for, not asked again.
        with self._flights.claim(missing) as (mine, theirs):
            found |= self._ask(mine)
        unanswered = KeyFlights.wait(theirs)
        with self._lock:
            found |= {p for p in theirs if p in self._existing}
        return found | self._ask(sorted(unanswered))

    def _ask(self, product_ids: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(product_ids), _PAGE):
            chunk = product_ids[start : start + _PAGE]
            params: dict[str, Any] = {"ids": chunk, "limit": _PAGE}
            page = self._caller.call(lambda c, p=params: c.v1.products.list(p))  # type: ignore[misc]
            listed = {str(product.id) for product in page.data} & set(chunk)
            for product_id in listed:
                self.remember(product_id)
            found |= listed
        return found

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
