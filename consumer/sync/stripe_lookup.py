"""Look before creating: what Stripe already holds for a batch of hydrated roots.

The planner is pure, so the Stripe objects that already exist are handed to it as
``KnownStripeObjects``. Finding them is what makes a replay older than Stripe's 24-hour
idempotency window safe: a customer by the Account's ``Stripe_ID__c`` (checked, so a customer
deleted in Stripe is reported, rule C1) or by its metadata; a product by its deterministic id;
a pricebook price by its lookup key, with its parameters so a changed entry is noticed (P7);
a schedule by the Order's ``Stripe_ID__c`` or by metadata among the customer's schedules,
together with the line prices it uses; an invoiced order's invoice by metadata. On a retry of
a failed attempt (``deep``) the sync also looks for line prices the attempt created before it
failed, which are still active and carry their order line's id in metadata, and asks Stripe for
the pricebook prices instead of trusting what the process remembers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, cast

from stripe.params import InvoiceItemListParams

from consumer.sync.contract_schedules import HELD_SCHEDULE_EXPAND, known_schedule
from consumer.sync.failures import StripeRejected
from consumer.sync.planning import KnownCustomer, KnownPrice, KnownSchedule, KnownStripeObjects
from consumer.sync.planning.coupons import coupon_id, coupon_records
from consumer.sync.planning.evergreen import has_evergreen_lines
from consumer.sync.planning.identity import (
    metadata_key,
    meter_event_name,
    price_lookup_key,
    product_id,
    stripe_id_on,
)
from consumer.sync.planning.prices import is_line_price
from consumer.sync.planning.views import OrderView, related_records
from consumer.sync.side_by_side import SideBySide
from consumer.sync.stripe_calls import StripeCaller, is_missing, to_plain
from consumer.sync.stripe_directory import (
    CustomerDirectory,
    LinePriceDirectory,
    MeterDirectory,
    PriceDirectory,
    ProductDirectory,
    ScheduleDirectory,
)
from consumer.sync.stripe_operations import Teaches, operation_kind
from consumer.sync.triggers import RecordRef
from schemas.models import utc_now

Record = Mapping[str, Any]
_ONE_MILLISECOND = dt.timedelta(milliseconds=1)


@dataclass
class StripeView:
    """What the planner gets (``known``) plus Stripe ids to put on hydrated records."""

    known: KnownStripeObjects
    # Order id -> the finalized invoice a one-time order already has (rule O3).
    invoices: dict[str, str] = field(default_factory=dict)
    # Objects read while looking, by Stripe id: what an update would change (convergence).
    current: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    # Part of the view is what this process remembered rather than asked just now (pricebook
    # prices, ``PriceDirectory``): a refusal may come from that memory being out of date.
    remembered: bool = False
    # Order id -> the subscription its evergreen schedule started: what its Stripe_ID__c names
    # (rule A4).
    subscriptions: dict[str, str] = field(default_factory=dict)
    # Pricebook prices Stripe was asked about for this batch: price id -> when the retrieve that
    # found it current was sent, None where it is not. Its orders often name the same entry, and
    # one retrieve answers them all.
    confirmed: dict[str, dt.datetime | None] = field(default_factory=dict)
    # A retry's lookups (``deep``): asked of Stripe, and covering whatever an earlier attempt
    # made (line prices included), so a create planned from them made nothing yet.
    afresh: bool = False

    def completed(self, object_type: str, record: Record) -> Record:
        """``record`` with the Stripe id the writeback would have given it, when found here.

        The planner reads an invoiced order's invoice from ``Order.Stripe_ID__c`` (O3); an
        order found invoiced in Stripe must not be invoiced again before writeback ran.
        """
        invoice = self.invoices.get(str(record.get("Id"))) if object_type == "Order" else None
        return {**record, "Stripe_ID__c": invoice} if invoice else record


@dataclass
class _Needs:
    accounts: dict[str, Record] = field(default_factory=dict)
    products: dict[str, Record] = field(default_factory=dict)
    entries: dict[str, Record] = field(default_factory=dict)
    orders: dict[str, Record] = field(default_factory=dict)
    metered: set[str] = field(default_factory=set)
    # Order_Stripe_Coupon__c records no Stripe_ID__c names a coupon for yet (A5).
    coupons: set[str] = field(default_factory=set)


# A5: an entry that reused a discount shows no coupon; the expanded discount names it.
_EXPANDED = {"subscription_schedule": HELD_SCHEDULE_EXPAND}


def _holds_discounts(schedule: Mapping[str, Any]) -> bool:
    """Whether any phase (or phase item) of ``schedule`` holds a discount."""
    return any(
        entry.get("discount")
        for phase in schedule.get("phases") or ()
        for held in (phase, *(phase.get("items") or ()))
        for entry in held.get("discounts") or ()
    )


def _id(record: Any) -> str | None:
    if isinstance(record, Mapping) and record.get("Id"):
        return str(record["Id"])
    return None


def _product_needs(needs: _Needs, record: Any) -> None:
    pid = _id(record)
    if pid:
        needs.products.setdefault(pid, record)
        if _metered(record.get("SBQQ__BillingType__c")):
            needs.metered.add(pid)


def _account_needs(needs: _Needs, account: Record) -> None:
    needs.accounts[str(account["Id"])] = account


def _entry_needs(needs: _Needs, entry: Record) -> None:
    needs.entries[str(entry["Id"])] = entry
    _product_needs(needs, entry.get("Product2"))


def _order_needs(needs: _Needs, order: Record) -> None:
    needs.orders[str(order["Id"])] = order
    account = order.get("Account")
    account_id = _id(account)
    if account_id and isinstance(account, Mapping):
        needs.accounts[account_id] = account
    for coupon in coupon_records(OrderView.of(order)):
        if not coupon.field("Stripe_ID__c"):
            needs.coupons.add(coupon.id)
    for item in related_records(order.get("OrderItems")):
        _product_needs(needs, item.get("Product2"))
        pid = _id(item.get("Product2"))
        if pid and _metered(item.get("SBQQ__BillingType__c")):
            needs.metered.add(pid)
        entry = item.get("PricebookEntry")
        entry_id = _id(entry)
        if entry_id and isinstance(entry, Mapping):
            needs.entries.setdefault(entry_id, entry)


# Per root object type: which Stripe objects its records need looked up.
_NEEDS: dict[str, Callable[[_Needs, Record], None]] = {
    "Account": _account_needs,
    "Product2": _product_needs,
    "PricebookEntry": _entry_needs,
    "Order": _order_needs,
}


def needs_of(records: Mapping[RecordRef, Record]) -> _Needs:
    needs = _Needs()
    for ref, record in records.items():
        _NEEDS[ref.object_type](needs, record)
    return needs


class StripeLookup:
    def __init__(self, caller: StripeCaller, *, sandbox: bool, parallelism: int = 16) -> None:
        """``parallelism`` bounds the extra threads that send a batch's lookups together."""
        self._caller = caller
        self._sandbox = sandbox
        self.customers = CustomerDirectory(caller, self.key("salesforce_account_id"))
        self.products = ProductDirectory(caller)
        self.prices = PriceDirectory(caller)
        self.meters = MeterDirectory(caller)
        self.schedules = ScheduleDirectory(caller, self.key("salesforce_order_id"))
        self.line_price_index = LinePriceDirectory(caller, self.key("salesforce_order_item_id"))
        self._side_by_side = SideBySide(parallelism, "cpqsync-lookup")

    def close(self) -> None:
        self._side_by_side.close()

    def key(self, name: str) -> str:
        return metadata_key(name, sandbox=self._sandbox)

    def view(self, records: Mapping[RecordRef, Record], *, deep: bool = False) -> StripeView:
        needs = needs_of(records)
        current: dict[str, Mapping[str, Any]] = {}
        gone_customers: dict[str, str] = {}  # Account id -> a customer Stripe does not have
        # Independent of one another, so asked at the same time: on a cold start each is a
        # round trip (a process's first batches waited for three, one after another).
        # A retry (``deep``) may follow a refusal of what memory made us send: ask Stripe.
        lookups: list[Callable[[], object]] = [
            partial(self._customers, needs.accounts, current, gone_customers),
            partial(self._products, needs.products),
            partial(self._pricebook_prices, needs.entries, fresh=deep),
        ]
        outcomes = self._side_by_side.run(lookups)
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                raise outcome
        customers = cast(dict[str, KnownCustomer], outcomes[0])
        products, missing = cast(tuple[dict[str, str], dict[str, str]], outcomes[1])
        missing.update(gone_customers)
        prices, remembered = cast(tuple[dict[str, KnownPrice], bool], outcomes[2])
        missing.update(self._adopted_prices(needs.entries, prices))
        meters = {
            pid: mid
            for pid in sorted(needs.metered)
            if (mid := self.meters.find(meter_event_name(pid, sandbox=self._sandbox)))
        }
        schedules: dict[str, str] = {}
        held: dict[str, KnownSchedule] = {}
        subscriptions: dict[str, str] = {}
        line_prices: dict[str, KnownPrice] = {}
        invoices: dict[str, str] = {}
        order_customers = {
            order_id: customers.get(str(order.get("AccountId") or _id(order.get("Account"))))
            for order_id, order in needs.orders.items()
        }
        # An attempt killed before its schedule existed, or between finalizing an invoice
        # and archiving its line prices (O3), may have left line prices active: a crash
        # redelivers at attempt 1, so "no schedule yet" (not only a retry) means look. A retry
        # lists the products' active prices; a first sync asks the index, the batch at once,
        # while the schedules are searched (both may wait for a listing).
        orders = list(needs.orders.values())
        found_schedules, candidates = self._side_by_side.pair(
            lambda: self._schedules(needs.orders, order_customers, missing),
            lambda: {} if deep else self._line_price_candidates(orders),
        )
        unscheduled = {
            item_id
            for order in orders
            if str(order["Id"]) not in found_schedules
            for item_id in _item_ids(order)
        }
        left = self._still_active({i: p for i, p in candidates.items() if i in unscheduled})
        for order_id, order in needs.orders.items():
            customer = order_customers[order_id]
            found = found_schedules.get(order_id)
            if found is not None:
                schedules[order_id] = str(found["id"])
                held[order_id] = known_schedule(found, sandbox=self._sandbox)
                subscription = held[order_id].subscription
                if subscription and has_evergreen_lines(OrderView.of(order).lines):
                    subscriptions[order_id] = subscription  # A4
                if str(found["id"]) not in current:  # a contract's orders share one schedule
                    current[str(found["id"])] = found
                    line_prices.update(self._line_prices_of(found, prices))
            elif customer is not None and not customer.deleted and _one_time_only(order):
                invoice = self._invoice(order_id, customer.id)
                if invoice is not None and invoice.get("status") != "draft":
                    invoices[order_id] = str(invoice["id"])
                elif invoice is not None:
                    # A draft is an attempt that never finished: the planner makes the invoice
                    # again (its key replays this draft), and each line must keep the price
                    # its item here already has. An item's key names its line alone (never
                    # bill a line twice), so another price under it is refused for ever.
                    line_prices.update(self._draft_item_prices(str(invoice["id"])))
            if deep:
                for item_id, price in self._orphan_line_prices(order, products).items():
                    line_prices.setdefault(item_id, price)
        for item_id, price in left.items():
            line_prices.setdefault(item_id, price)
        known = KnownStripeObjects(
            customers=customers,
            products=products,
            prices=prices,
            line_prices=line_prices,
            meters=meters,
            schedules=schedules,
            missing=missing,
            contract_schedules=held,
            coupons=self._coupons(needs.coupons),
        )
        return StripeView(known, invoices, current, remembered, subscriptions, afresh=deep)

    # --- customers and products ------------------------------------------------------------

    def _customers(
        self,
        accounts: Mapping[str, Record],
        current: dict[str, Mapping[str, Any]],
        missing: dict[str, str],
    ) -> dict[str, KnownCustomer]:
        """Account id -> its customer: by ``Stripe_ID__c`` (retrieved, so a customer deleted in
        Stripe is noticed, C1, and one Stripe does not have goes to ``missing``, K2), else by
        metadata, the batch's misses sharing one listing."""
        out: dict[str, KnownCustomer] = {}
        by_metadata: list[str] = []
        for account_id, account in accounts.items():
            stored = stripe_id_on(account, "customer")
            if stored is not None:
                known = self._retrieve_customer(stored, current)
                if known is None:
                    missing[account_id] = stored
                    continue
                out[account_id] = known
                continue
            by_metadata.append(account_id)
        if by_metadata:
            for account_id, found in self.customers.find_many(by_metadata).items():
                current[str(found["id"])] = found
                out[account_id] = KnownCustomer(str(found["id"]), currency=found.get("currency"))
        return out

    def _retrieve_customer(
        self, customer_id: str, current: dict[str, Mapping[str, Any]]
    ) -> KnownCustomer | None:
        try:
            customer = self._caller.call(lambda c: c.v1.customers.retrieve(customer_id))
        except StripeRejected as error:
            if not is_missing(error):
                raise
            return None
        data = to_plain(customer)
        if data.get("deleted"):
            return KnownCustomer(customer_id, deleted=True)
        current[customer_id] = data
        return KnownCustomer(customer_id, currency=data.get("currency"))

    def _products(self, products: Mapping[str, Record]) -> tuple[dict[str, str], dict[str, str]]:
        """Product2 id -> its Stripe product: the one its ``Stripe_ID__c`` names (adopted, K2),
        else its deterministic id; and the Product2s naming a product Stripe does not have."""
        stored: dict[str, str] = {}
        own: dict[str, str] = {}
        for product2_id, product in products.items():
            value = product.get("Stripe_ID__c")
            if isinstance(value, str) and value:
                stored[product2_id] = value
            own[product2_id] = product_id(str(product["Id"]), sandbox=self._sandbox)
        existing = self.products.existing({*stored.values(), *own.values()})
        found: dict[str, str] = {}
        missing: dict[str, str] = {}
        for product2_id, deterministic in own.items():
            named = stored.get(product2_id)
            if named in existing:
                found[product2_id] = str(named)
            elif named is not None and stripe_id_on(products[product2_id], "product"):
                missing[product2_id] = named  # K2: an error naming it, never a silent twin
            elif deterministic in existing:
                found[product2_id] = deterministic  # a value that is no id is ignored
        return found, missing

    # --- prices ----------------------------------------------------------------------------

    def _pricebook_prices(
        self, entries: Mapping[str, Record], *, fresh: bool
    ) -> tuple[dict[str, KnownPrice], bool]:
        """The entries' prices, and whether the answer came (partly) from memory."""
        by_key = {price_lookup_key(eid, sandbox=self._sandbox): eid for eid in entries}
        found, remembered = self.prices.find(by_key, fresh=fresh)
        known = {by_key[key]: KnownPrice(str(price["id"]), price) for key, price in found.items()}
        return known, remembered

    def _adopted_prices(
        self, entries: Mapping[str, Record], prices: dict[str, KnownPrice]
    ) -> dict[str, str]:
        """Entries without a price under their lookup key whose ``Stripe_ID__c`` names one (made
        by another connector, K2): adopted into ``prices`` with its parameters (P6, P7); the
        entries naming a price Stripe does not have are returned."""
        missing: dict[str, str] = {}
        for entry_id, entry in entries.items():
            named = stripe_id_on(entry, "price")
            if entry_id in prices or named is None:
                continue
            price = self._retrieve_price(named)
            if price is None:
                missing[entry_id] = named
            else:
                prices[entry_id] = KnownPrice(named, price)
        return missing

    def _retrieve_price(self, price_id: str) -> dict[str, Any] | None:
        try:
            price = self._caller.call(
                lambda c: c.v1.prices.retrieve(price_id, {"expand": ["tiers"]})
            )
        except StripeRejected as error:
            if is_missing(error):
                return None
            raise
        return to_plain(price)

    def current_price_seen_at(self, price_id: str, view: StripeView) -> dt.datetime | None:
        """When Stripe, asked, said a pricebook price is active under its lookup key (the time
        the retrieve was sent: the price was still the entry's after it), or None where it is
        not (asked once per batch: ``view.confirmed``). A report of the price carries that time,
        so the writeback can tell it from a newer replacement's (P7; fix 20)."""
        if price_id not in view.confirmed:
            # Result times are kept to the millisecond: one earlier keeps the report strictly
            # older than a result the entry's sync builds after replacing the price.
            asked = utc_now() - _ONE_MILLISECOND
            price = self._retrieve_price(price_id)
            current = bool(price and price.get("active") and price.get("lookup_key"))
            view.confirmed[price_id] = asked if current else None
        return view.confirmed[price_id]

    def _line_prices_of(
        self, schedule: Mapping[str, Any], entry_prices: Mapping[str, KnownPrice]
    ) -> dict[str, KnownPrice]:
        """The price a schedule uses for each order line, keyed by the line's id (from item
        metadata), its pricebook entry's included.

        A line on its entry's price keeps that price while the line's amount still matches it,
        even once the entry's price moves on (P7) or while it is about to: the planner would
        otherwise give the line a price of its own and rewrite the schedule, re-sending the
        other lines' archived prices, which Stripe refuses — leaving the new line price active
        for good (docs/reliability.md, fix 10).

        A recurring line's price is the one its phase items name: an amendment's proration
        item (an add_invoice_item) names the same line (a new product's line is its own
        original) with a one-time price made from ``price_data``, which must not stand for the
        line's price, or every later sync of the contract plans the line's price create again
        (docs/reliability.md, fix 19). A one-time line has add_invoice_items only.

        Of the prices a line's phase items name, the latest phase's that is the line's own
        price (P6: its metadata marks it) or its entry's stands for it; only where none is, the
        latest phase's. A term that is not a whole number of periods ends in a phase whose
        items bill the remainder on prices made from ``price_data`` (O7), which are neither:
        taken for the line's price, every later sync of the contract planned the line's price
        create again (docs/reliability.md, fix 23)."""
        pricebook = {known.id: known for known in entry_prices.values()}
        item_key = self.key("salesforce_order_item_id")
        recurring: dict[str, list[str]] = {}
        one_time: dict[str, list[str]] = {}
        for phase in schedule.get("phases") or ():
            for items, found in (
                (phase.get("items"), recurring),
                (phase.get("add_invoice_items"), one_time),
            ):
                for item in items or ():
                    price_id = _object_id(item.get("price"))
                    item_id = (item.get("metadata") or {}).get(item_key)
                    if item_id and price_id is not None:
                        found.setdefault(str(item_id), []).append(price_id)
        out: dict[str, KnownPrice] = {}
        retrieved: dict[str, dict[str, Any] | None] = {}
        for item_id, price_ids in {**one_time, **recurring}.items():
            chosen: KnownPrice | None = None
            for price_id in reversed(price_ids):  # the latest phase's first
                if price_id in pricebook:
                    chosen = pricebook[price_id]
                    break
                if price_id not in retrieved:  # a price may stand for several lines
                    retrieved[price_id] = self._retrieve_price(price_id)
                price = retrieved[price_id]
                if price is None:
                    continue
                if is_line_price(price):
                    chosen = KnownPrice(price_id, price)
                    break
                chosen = chosen or KnownPrice(price_id, price)  # the latest, failing better
            if chosen is not None:
                out[item_id] = chosen
        return out

    def _line_price_candidates(self, orders: list[Record]) -> dict[str, str]:
        """Item id -> the newest line price made for it, for the items of ``orders`` that ever
        had one (from the index: on a first sync, only a crash leaves any)."""
        items = [item for order in orders for item in _item_ids(order)]
        return self.line_price_index.find_many(items) if items else {}

    def _still_active(self, candidates: Mapping[str, str]) -> dict[str, KnownPrice]:
        """``_orphan_line_prices`` for a first sync: the candidates Stripe says are active."""
        out: dict[str, KnownPrice] = {}
        for item_id, price_id in candidates.items():
            price = self._retrieve_price(price_id)
            if price is not None and price.get("active"):
                out[item_id] = KnownPrice(price_id, price)
        return out

    def _orphan_line_prices(
        self, order: Record, products: Mapping[str, str]
    ) -> dict[str, KnownPrice]:
        """Active line prices an interrupted attempt created before its schedule existed."""
        items = {str(i["Id"]): i for i in related_records(order.get("OrderItems"))}
        product2_ids = {_id(i.get("Product2")) for i in items.values()}
        product_ids = sorted({products[p] for p in product2_ids if p is not None and p in products})
        item_key = self.key("salesforce_order_item_id")
        out: dict[str, KnownPrice] = {}
        for stripe_product in product_ids:
            params: dict[str, Any] = {
                "product": stripe_product,
                "active": True,
                "limit": 100,
                "expand": ["data.tiers"],
            }
            page = self._caller.call(lambda c, p=params: c.v1.prices.list(p))  # type: ignore[misc]
            for price in page.auto_paging_iter():
                plain = to_plain(price)
                item_id = (plain.get("metadata") or {}).get(item_key)
                if item_id in items:
                    out.setdefault(str(item_id), KnownPrice(price.id, plain))
        return out

    # --- schedules and invoices ------------------------------------------------------------

    def _schedules(
        self,
        orders: Mapping[str, Record],
        customers: Mapping[str, KnownCustomer | None],
        missing: dict[str, str],
    ) -> dict[str, dict[str, Any]]:
        """Order id -> its schedule: by ``Stripe_ID__c`` (adopted whoever made it, K2; one
        Stripe does not have goes to ``missing``), else by metadata, all orders of the batch
        in one directory search (so their misses share one listing). An evergreen order's
        Stripe_ID__c names the subscription its schedule started (A4): the schedule is the
        subscription's ``schedule``, or (released) found by metadata."""
        found: dict[str, dict[str, Any]] = {}
        by_metadata: dict[str, str] = {}
        afresh: set[str] = set()  # found, but asked again (released, or listed with discounts)
        for order_id, order in orders.items():
            stored = stripe_id_on(order, "subscription_schedule")
            named = stripe_id_on(order, "subscription")
            if named is not None:
                subscription = self._retrieve("subscription", named)
                if subscription is None:
                    missing[order_id] = named
                else:
                    stored = _object_id(subscription.get("schedule"))
                    if stored is None:
                        afresh.add(order_id)
            if stored is not None:
                schedule = self._retrieve("subscription_schedule", stored)
                if schedule is not None:
                    found[order_id] = schedule
                    continue
                missing[order_id] = stored
            customer = customers.get(order_id)
            if customer is not None and not customer.deleted:
                by_metadata[order_id] = customer.id
        if by_metadata:
            listed = self.schedules.find_many(by_metadata)
            found.update(listed)
            # A listing cannot expand item discounts (too deep): asked afresh (A5).
            afresh |= {i for i, schedule in listed.items() if _holds_discounts(schedule)}
        for order_id in afresh & found.keys():
            # The directory may remember the schedule from before its release: asked afresh.
            fresh = self._retrieve("subscription_schedule", str(found[order_id]["id"]))
            if fresh is not None:
                found[order_id] = fresh
        return found

    def _coupons(self, record_ids: set[str]) -> dict[str, dict[str, Any]]:
        """Coupon record id -> the coupon Stripe holds under its deterministic id (A5)."""
        found = {
            record_id: self._retrieve("coupon", coupon_id(record_id, sandbox=self._sandbox))
            for record_id in sorted(record_ids)
        }
        return {record_id: coupon for record_id, coupon in found.items() if coupon is not None}

    def _retrieve(self, kind: str, stripe_id: str) -> dict[str, Any] | None:
        """The object of ``kind`` named ``stripe_id``, or None where Stripe has none."""
        services = {
            "coupon": lambda c: c.v1.coupons,
            "subscription": lambda c: c.v1.subscriptions,
            "subscription_schedule": lambda c: c.v1.subscription_schedules,
        }
        params = {"expand": list(_EXPANDED[kind])} if kind in _EXPANDED else {}
        try:
            found = self._caller.call(lambda c: services[kind](c).retrieve(stripe_id, params))
        except StripeRejected as error:
            if not is_missing(error):
                raise
            return None
        return to_plain(found)

    def _invoice(self, order_id: str, customer_id: str) -> dict[str, Any] | None:
        return self._by_metadata(
            lambda c, p: c.v1.invoices.list(p),
            {"customer": customer_id, "limit": 100},
            self.key("salesforce_order_id"),
            order_id,
        )

    def _draft_item_prices(self, invoice_id: str) -> dict[str, KnownPrice]:
        """Order item id -> the price its item on the draft ``invoice_id`` bills."""
        item_key = self.key("salesforce_order_item_id")
        params: InvoiceItemListParams = {"invoice": invoice_id, "limit": 100}
        page = self._caller.call(lambda c: c.v1.invoice_items.list(params))
        out: dict[str, KnownPrice] = {}
        for found in page.auto_paging_iter():
            item = to_plain(found)
            item_id = (item.get("metadata") or {}).get(item_key)
            details = (item.get("pricing") or {}).get("price_details") or {}
            price_id = details.get("price")
            if item_id and price_id:
                price = self._retrieve_price(str(price_id))
                if price is not None:
                    out[str(item_id)] = KnownPrice(str(price_id), price)
        return out

    def _by_metadata(
        self, list_call: Any, params: dict[str, Any], key: str, value: str
    ) -> dict[str, Any] | None:
        cursor: dict[str, Any] = dict(params)

        def next_page(client: Any) -> Any:
            return list_call(client, cursor)

        while True:
            page = self._caller.call(next_page)
            for obj in page.data:
                plain = to_plain(obj)
                if (plain.get("metadata") or {}).get(key) == value:
                    return plain
            if not page.has_more or not page.data:
                return None
            cursor["starting_after"] = page.data[-1].id

    # --- learning from our own writes ------------------------------------------------------

    def distrust(self) -> bool:
        """A sync failed at Stripe: ask again for what may have changed behind our back.

        Returns whether anything remembered was dropped."""
        return self.prices.forget()

    def learn(self, kind: str, result: Mapping[str, Any], *, replayed: bool = False) -> None:
        """Remember an object the applier just created or changed, so the next lookup needs
        no call (what each kind teaches: ``stripe_operations``)."""
        found = operation_kind(kind)
        if found.teaches is None or (replayed and not found.replay_teaches):
            return
        memories: dict[Teaches, Callable[[], None]] = {
            Teaches.CUSTOMER: lambda: self.customers.remember(dict(result)),
            Teaches.SCHEDULE: lambda: self.schedules.remember(dict(result)),
            Teaches.PRODUCT: lambda: self.products.remember(str(result["id"])),
            Teaches.PRICE: lambda: self.prices.remember(result),
            Teaches.METER: lambda: self.meters.remember(
                str(result["event_name"]), str(result["id"])
            ),
        }
        memories[found.teaches]()


def _object_id(value: Any) -> str | None:
    """A Stripe object's id from a field that holds it, expanded or not."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _item_ids(order: Record) -> list[str]:
    return [str(item["Id"]) for item in related_records(order.get("OrderItems"))]


def _one_time_only(order: Record) -> bool:
    lines = OrderView.of(order).lines
    return bool(lines) and not any(line.recurring for line in lines)


def _metered(billing_type: Any) -> bool:
    # Rule P4's Arrears; an unsupported value is the planner's Data Error to report, not ours.
    return str(billing_type or "").strip().lower() == "arrears"
