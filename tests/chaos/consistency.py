"""The consistency checker: what Stripe and Salesforce should hold, against what they hold.

Modelled on faust's stress-test checker: after a chaotic run, recompute the truth from the
final Salesforce state and compare it with the final Stripe state, object by object.

The truth comes from the planner itself, run cold: every activated order is hydrated from the
org (the sync's own ``Hydrator`` over REST) with every ``Stripe_ID__c`` removed, and planned as
if Stripe were empty. That plan lists each customer, product, meter, price and schedule (or
invoice) the order needs, with the parameters they must have *now*. The comparison is then:

- each expected object exists exactly once (customers by account, schedules and invoices by
  order, line prices by order line, active pricebook prices by lookup key, products by id,
  meters by event name) and holds the planned parameters (a subset comparison: Stripe adds
  fields of its own);
- a schedule line or invoice line points at a price with the planned parameters. Which price
  (the pricebook entry's, or the line's own) depends on history (P6: a line reuses the entry's
  price only while they are equal), so the price is compared by its parameters, not its id;
- nothing else exists: no customer, product, price, meter, schedule or invoice that no order
  explains (archived earlier versions of an entry's price are explained by P7);
- Salesforce holds each synced record's ``Stripe_ID__c`` and a Success Sync Record, and each
  order the planner refuses holds an Error Sync Record with the planner's message.

Activated orders that were deleted afterwards are tolerated (deletes are not propagated, C1):
their Stripe objects may exist, but need not.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from consumer.sync.planning import Operation, Plan, is_ref
from cpqsync.settings import Settings
from cpqsync_sandbox.org.simulator import OrgSimulator
from cpqsync_sandbox.stripe_emulator import StripeEmulator
from tests.chaos.contract_schedule import expected_schedule, schedule_mismatches
from tests.chaos.expected_state import Expectation, expectation
from tests.chaos.shape_schedule import (
    coupon_mismatches,
    coupon_terms,
    expected_order,
    order_mismatches,
    shapes_of,
)

# Customer metadata carrying the account version it was written from (salesforce_/sandbox_).
_VERSION_SUFFIX = "_account_modstamp"

STRIPE_KINDS = (
    "customer",
    "product",
    "price",
    "billing.meter",
    "subscription_schedule",
    "invoice",
    "invoiceitem",
    "coupon",
    "discount",
)
# What identifies a price, beyond its id: compared between planned and stored prices.
_PRICE_FIELDS = (
    "product",
    "currency",
    "unit_amount_decimal",
    "recurring",
    "tiers",
    "tiers_mode",
    "billing_scheme",
)


@dataclass
class Report:
    discrepancies: list[str] = field(default_factory=list)
    duplicates: int = 0
    expected: Counter[str] = field(default_factory=Counter)
    orders_synced: int = 0
    orders_refused: int = 0
    orders_skipped: int = 0

    def add(self, text: str) -> None:
        self.discrepancies.append(text)

    def summary(self) -> dict[str, Any]:
        return {
            "orders_synced": self.orders_synced,
            "orders_refused": self.orders_refused,
            "orders_skipped": self.orders_skipped,
            "expected_objects": dict(self.expected),
            "discrepancies": len(self.discrepancies),
            "duplicates": self.duplicates,
        }


# --- comparing values -------------------------------------------------------------------------


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def mismatches(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Where ``actual`` does not hold ``expected`` (dicts compare as subsets, numbers by value)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path or '.'}: expected an object, found {actual!r}"]
        out: list[str] = []
        for key, value in expected.items():
            out.extend(mismatches(value, actual.get(key), f"{path}.{key}" if path else key))
        return out
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: expected {expected!r}, found {actual!r}"]
        out = []
        for index, (want, have) in enumerate(zip(expected, actual, strict=True)):
            out.extend(mismatches(want, have, f"{path}[{index}]"))
        return out
    if expected == actual:
        return []
    want, have = _number(expected), _number(actual)
    if want is not None and have is not None and want == have:
        return []
    return [f"{path}: expected {expected!r}, found {actual!r}"]


def _price_shape(params: Mapping[str, Any]) -> dict[str, Any]:
    shape = {k: params[k] for k in _PRICE_FIELDS if k in params}
    if isinstance(shape.get("tiers"), list):
        # Stripe takes ``up_to: inf`` and stores the open-ended last tier as ``up_to: null``.
        shape["tiers"] = [
            {**tier, "up_to": None} if tier.get("up_to") == "inf" else tier
            for tier in shape["tiers"]
        ]
    return shape


# --- the check --------------------------------------------------------------------------------


class _Stripe:
    """The emulator's final state, indexed the ways the checker looks things up."""

    def __init__(self, objects: Mapping[str, list[dict[str, Any]]]) -> None:
        self.objects = objects
        self.by_id = {o["id"]: o for kind in STRIPE_KINDS for o in objects.get(kind, [])}

    def by_metadata(self, kind: str, key: str) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for obj in self.objects.get(kind, []):
            value = (obj.get("metadata") or {}).get(key)
            if value:
                found[str(value)].append(obj)
        return found


def snapshot(stripe: StripeEmulator) -> dict[str, list[dict[str, Any]]]:
    return {kind: stripe.objects(kind) for kind in STRIPE_KINDS}


@dataclass
class OrgView:
    """The org's final records the checker reads (copies, so it can run after the org stops)."""

    records: dict[str, dict[str, dict[str, Any]]]  # object -> Id -> record (deleted included)
    sync_records: list[dict[str, Any]]
    expected_errors: dict[str, str]

    def get(self, object_type: str, record_id: str) -> dict[str, Any]:
        return self.records[object_type].get(record_id, {})


def org_view(org: OrgSimulator) -> OrgView:
    objects = (
        "Order",
        "OrderItem",
        "Contract",
        "SBQQ__Quote__c",
        "Account",
        "Product2",
        "PricebookEntry",
        "Opportunity",
        "Order_Stripe_Coupon__c",
    )
    return OrgView(
        records={
            name: {str(r["Id"]): dict(r) for r in org.store.records(name, include_deleted=True)}
            for name in objects
        },
        sync_records=[dict(r) for r in org.store.records("Sync_Record__c")],
        expected_errors=dict(org.dataset.expected_errors),
    )


@dataclass
class Verdict:
    """A check's inputs kept together, so the same state can be compared again (altered)."""

    org: OrgView
    stripe: Mapping[str, list[dict[str, Any]]]
    expected: Expectation
    report: Report


def check(
    org: OrgSimulator,
    stripe_objects: Mapping[str, list[dict[str, Any]]],
    settings: Settings,
    *,
    now: dt.datetime | None = None,
) -> Verdict:
    """Every discrepancy between the final org state and the final Stripe state."""
    synced_entries = {
        str(p["metadata"]["salesforce_pricebook_entry_id"])
        for p in stripe_objects.get("price", [])
        if (p.get("metadata") or {}).get("salesforce_pricebook_entry_id")
    }
    expected = expectation(org, settings, now or dt.datetime.now(dt.UTC), synced_entries)
    view = org_view(org)
    return Verdict(view, stripe_objects, expected, compare(view, stripe_objects, expected))


def compare(
    org: OrgView, stripe_objects: Mapping[str, list[dict[str, Any]]], expected: Expectation
) -> Report:
    return _Checker(org, _Stripe(stripe_objects), expected).run()


class _Checker:
    def __init__(self, org: OrgView, stripe: _Stripe, expected: Expectation) -> None:
        self.org = org
        self.stripe = stripe
        self.x = expected
        self.report = Report()
        # op id -> the Stripe id it resolved to, per order plan (refs resolve within a plan)
        self.customers: dict[str, str] = {}
        self.price_ids_by_key: dict[str, str] = {}
        self.coupon_ids: dict[str, str] = {}  # Order_Stripe_Coupon__c id -> Stripe coupon id

    def run(self) -> Report:
        self._customers()
        self._products()
        self._meters()
        self._entry_prices()
        self._line_prices()
        self._coupons()
        self._orders()
        self._unexpected_prices()
        return self.report

    # --- objects that must exist exactly once ---

    def _one(self, what: str, found: list[dict[str, Any]]) -> dict[str, Any] | None:
        if not found:
            self.report.add(f"missing: {what}")
            return None
        if len(found) > 1:
            self.report.duplicates += len(found) - 1
            self.report.add(f"duplicated {len(found)}x: {what}: {[o['id'] for o in found]}")
        return found[0]

    def _compare(self, what: str, op: Operation, actual: dict[str, Any], skip: set[str]) -> None:
        params = {k: v for k, v in op.params.items() if k not in skip and not is_ref(v)}
        for problem in mismatches(params, actual):
            self.report.add(f"{what} {actual['id']}: {problem}")

    def _compare_customer(self, what: str, op: Operation, actual: dict[str, Any]) -> None:
        """Every planned value exactly; the account version token only as "not newer".

        The token records the account version the customer was last written from. A later
        account write that changes no mapped field (our own writeback storing the Stripe id,
        say) rightly causes no customer update, so the token may trail the account's current
        stamp; it must never be ahead of it, and every mapped value must match.
        """
        params = dict(op.params)
        metadata = dict(params.get("metadata") or {})
        tokens = {k: metadata.pop(k) for k in list(metadata) if k.endswith(_VERSION_SUFFIX)}
        params["metadata"] = metadata
        comparable = {k: v for k, v in params.items() if not is_ref(v)}
        for problem in mismatches(comparable, actual):
            self.report.add(f"{what} {actual['id']}: {problem}")
        have = actual.get("metadata") or {}
        for key, want in tokens.items():
            stored = have.get(key)
            if stored is None or str(stored) > str(want):
                self.report.add(
                    f"{what} {actual['id']}: metadata.{key} is {stored!r}, "
                    f"the account is at {want!r}"
                )

    def _stripe_id_field(self, object_type: str, record_id: str, want: str, what: str) -> None:
        record = self.org.get(object_type, record_id)
        if record.get("Stripe_ID__c") != want:
            self.report.add(
                f"{what}: {object_type}.Stripe_ID__c is {record.get('Stripe_ID__c')!r}, "
                f"Stripe holds {want}"
            )

    def _success_record(self, record_id: str, what: str) -> None:
        records = [r for r in self.org.sync_records if r.get("Primary_Record_ID__c") == record_id]
        if not any(r.get("Resolution_Status__c") == "Success" for r in records):
            statuses = [
                (r.get("Resolution_Status__c"), r.get("Resolution_Message__c")) for r in records
            ]
            self.report.add(f"{what}: no Success Sync Record (found {statuses})")

    def _customers(self) -> None:
        found = self.stripe.by_metadata("customer", "salesforce_account_id")
        self.report.expected["customer"] = len(self.x.customers)
        for account, op in self.x.customers.items():
            what = f"customer of Account {account}"
            actual = self._one(what, [c for c in found.get(account, []) if not c.get("deleted")])
            if actual is None:
                continue
            self.customers[account] = actual["id"]
            self._compare_customer(what, op, actual)
            self._stripe_id_field("Account", account, actual["id"], what)
            self._success_record(account, what)
        for account, customers in found.items():
            if account not in self.x.customers and not self._tolerated_account(account):
                self.report.add(
                    f"unexpected: customer(s) {[c['id'] for c in customers]} for Account "
                    f"{account}, which no synced order uses"
                )

    def _tolerated_account(self, account: str) -> bool:
        for order in self.x.tolerated_orders:
            if self.org.get("Order", order).get("AccountId") == account:
                return True
        return False

    def _products(self) -> None:
        stored = {p["id"]: p for p in self.stripe.objects.get("product", [])}
        self.report.expected["product"] = len(self.x.products)
        for product_id, op in self.x.products.items():
            what = f"product of Product2 {op.source.id}"
            actual = stored.get(product_id)
            if actual is None:
                self.report.add(f"missing: {what} ({product_id})")
                continue
            self._compare(what, op, actual, skip=set())
            self._stripe_id_field("Product2", op.source.id, product_id, what)
            self._success_record(op.source.id, what)
        for product_id in stored.keys() - self.x.products.keys():
            self.report.add(f"unexpected: product {product_id}, which no synced order uses")

    def _meters(self) -> None:
        found: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for meter in self.stripe.objects.get("billing.meter", []):
            found[str(meter.get("event_name"))].append(meter)
        self.report.expected["billing.meter"] = len(self.x.meters)
        for name, op in self.x.meters.items():
            actual = self._one(f"meter {name}", found.get(name, []))
            if actual is not None:
                self._compare(f"meter {name}", op, actual, skip=set())
        for name in found.keys() - self.x.meters.keys():
            self.report.add(f"unexpected: meter {name}")

    def _coupons(self) -> None:
        """Each coupon record of a synced order is one Stripe coupon with its terms, named by
        its ``Stripe_ID__c`` (A5, recomputed from the records by ``shape_schedule``); no other
        coupon exists."""
        found: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for coupon in self.stripe.objects.get("coupon", []):
            metadata = coupon.get("metadata") or {}
            record = next(
                (v for k, v in metadata.items() if k.endswith("_order_stripe_coupon_id")), None
            )
            found[str(record)].append(coupon)
        synced = self._synced_orders()
        expected = {
            record_id: record
            for record_id, record in self.org.records["Order_Stripe_Coupon__c"].items()
            if str(record.get("Order__c")) in synced and not record.get("IsDeleted")
        }
        self.report.expected["coupon"] = len(expected)
        for record_id, record in sorted(expected.items()):
            order = str(record["Order__c"])
            what = f"coupon of Order_Stripe_Coupon__c {record_id} (Order {order})"
            held = self._one(what, found.get(record_id, []))
            if held is None:
                continue
            self.coupon_ids[record_id] = held["id"]
            terms = coupon_terms(record, self._currency(order))
            for problem in coupon_mismatches(terms, held):
                self.report.add(f"{what} {held['id']}: {problem}")
            self._stripe_id_field("Order_Stripe_Coupon__c", record_id, held["id"], what)
        tolerated = {
            r
            for r, record in self.org.records["Order_Stripe_Coupon__c"].items()
            if str(record.get("Order__c")) in self.x.tolerated_orders
        }
        for record_id in found.keys() - expected.keys() - tolerated:
            ids = [c["id"] for c in found[record_id]]
            self.report.add(f"unexpected: coupon(s) {ids} of Order_Stripe_Coupon__c {record_id}")

    def _currency(self, order_id: str) -> str:
        return str(self.org.get("Order", order_id).get("CurrencyIsoCode") or "USD").lower()

    def _synced_orders(self) -> dict[str, str]:
        """Every order whose plan is ready: order id -> the order whose schedule holds it (its
        contract's initial order for an amendment)."""
        ready = {o for o, plan in self.x.plans.items() if plan.status == "ready"}
        out = {order: order for order in ready}
        out.update({a: i for a, i in self.x.amendments.items() if i in ready})
        return out

    def _resolved_price_shape(self, op: Operation) -> dict[str, Any]:
        shape = _price_shape(op.params)
        recurring = shape.get("recurring")
        if isinstance(recurring, dict) and is_ref(recurring.get("meter")):
            meters = {m.get("event_name"): m["id"] for m in self.stripe.objects["billing.meter"]}
            event = next(
                (
                    str(m.params["event_name"])
                    for m in self.x.meters.values()
                    if recurring["meter"]["$ref"].startswith(m.id + ".")
                ),
                None,
            )
            shape["recurring"] = {**recurring, "meter": meters.get(event)}
        return shape

    def _entry_prices(self) -> None:
        active: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for price in self.stripe.objects.get("price", []):
            if price.get("lookup_key") and price.get("active"):
                active[str(price["lookup_key"])].append(price)
        self.report.expected["price (pricebook entry)"] = len(self.x.entry_prices)
        for key, op in self.x.entry_prices.items():
            what = f"active price of PricebookEntry {op.source.id}"
            actual = self._one(what, active.get(key, []))
            if actual is None:
                continue
            self.price_ids_by_key[key] = actual["id"]
            for problem in mismatches(self._resolved_price_shape(op), actual):
                self.report.add(f"{what} {actual['id']}: {problem}")
            self._stripe_id_field("PricebookEntry", op.source.id, actual["id"], what)
            self._success_record(op.source.id, what)

    def _line_prices(self) -> None:
        found = self.stripe.by_metadata("price", "salesforce_order_item_id")
        for item, prices in found.items():
            if len(prices) > 1:
                self.report.duplicates += len(prices) - 1
                self.report.add(
                    f"duplicated {len(prices)}x: line price of OrderItem {item}: "
                    f"{[p['id'] for p in prices]}"
                )
            for price in prices:
                if price.get("active"):
                    self.report.add(f"line price {price['id']} of OrderItem {item} is not archived")

    def _unexpected_prices(self) -> None:
        entries = {op.source.id for op in self.x.entry_prices.values()}
        used = self._prices_in_use()
        inline = self._planned_inline_prices()
        for price in self.stripe.objects.get("price", []):
            metadata = price.get("metadata") or {}
            item = metadata.get("salesforce_order_item_id")
            entry = metadata.get("salesforce_pricebook_entry_id")
            if item is not None:
                explained = item in self.x.line_prices or price["id"] in used
            elif entry is not None:
                # the active one was checked above; inactive ones are earlier versions (P7)
                explained = entry in entries or price["id"] in used
            else:
                # Stripe's price for one price_data use (sync.inline_line_prices): inactive, no
                # metadata, named by the schedule that made it. A contract's proration items
                # (A1) and an uneven term's last phase (O7) are inline too, and every rewrite of
                # the schedule sends its future phases again, so Stripe makes a new price each
                # time: earlier ones are explained by the same planned price_data (Stripe keeps
                # every price; none can be deleted).
                explained = not price.get("active") and (
                    price["id"] in used or any(not mismatches(p, price) for p in inline)
                )
            if not explained:
                shape = {k: price.get(k) for k in ("active", "product", "unit_amount_decimal")}
                self.report.add(
                    f"unexpected: price {price['id']} (metadata {metadata}), which no synced "
                    f"order uses: {shape}"
                )

    def _planned_inline_prices(self) -> list[dict[str, Any]]:
        """The price shapes of every planned schedule item and add_invoice_item given as
        price_data (O7's last phase, A1's proration items)."""
        shapes: list[dict[str, Any]] = []
        for plan in self.x.plans.values():
            for op in plan.operations:
                if op.kind != "subscription_schedule.create":
                    continue
                for phase in op.params.get("phases") or []:
                    items = [*(phase.get("items") or []), *(phase.get("add_invoice_items") or [])]
                    shapes.extend(_price_shape(i["price_data"]) for i in items if "price_data" in i)
        return shapes

    def _prices_in_use(self) -> set[str]:
        used: set[str] = set()
        for schedule in self.stripe.objects.get("subscription_schedule", []):
            for phase in schedule.get("phases") or []:
                for item in [*(phase.get("items") or []), *(phase.get("add_invoice_items") or [])]:
                    used.add(str(item.get("price")))
        for line in self.stripe.objects.get("invoiceitem", []):
            pricing = line.get("pricing") or {}
            price = (pricing.get("price_details") or {}).get("price") or line.get("price")
            used.add(str(price.get("id") if isinstance(price, dict) else price))
        return used

    # --- orders ---

    def _orders(self) -> None:
        schedules = self.stripe.by_metadata("subscription_schedule", "salesforce_order_id")
        invoices = self.stripe.by_metadata("invoice", "salesforce_order_id")
        records = {r.get("Compound_ID__c"): r for r in self.org.sync_records}
        contracts = set(self.x.amendments.values())
        expected_schedules = expected_invoices = 0
        for order_id, plan in sorted(self.x.plans.items()):
            kinds = {op.kind for op in plan.operations}
            record = records.get(order_id)
            if plan.status == "error":
                self.report.orders_refused += 1
                self._refused(order_id, plan, record, schedules, invoices)
                shapes = shapes_of(self.org.records, order_id)
                if shapes and order_id not in self.org.expected_errors:
                    # the workload makes only orders of shapes the sync supports (issue 20)
                    self.report.add(
                        f"Order {order_id} of shapes {shapes} refused: {plan.errors[0].message}"
                    )
                continue
            if plan.status == "skipped":
                self.report.orders_skipped += 1
                if schedules.get(order_id) or invoices.get(order_id):
                    self.report.add(f"Order {order_id} is filtered out but has Stripe objects")
                continue
            self.report.orders_synced += 1
            what = f"Order {order_id}"
            if "subscription_schedule.create" in kinds:
                expected_schedules += 1
                actual = self._one(f"schedule of {what}", schedules.get(order_id, []))
                if invoices.get(order_id):
                    self.report.add(f"unexpected: invoice for {what}, which has recurring lines")
                if actual is not None:
                    self._schedule(what, plan, actual)
                    if order_id in contracts:
                        self._contract_schedule(what, order_id, actual)
                    elif shapes_of(self.org.records, order_id):
                        self._shaped_schedule(what, order_id, actual, schedules)
            else:
                expected_invoices += 1
                actual = self._one(f"invoice of {what}", invoices.get(order_id, []))
                if actual is not None:
                    self._invoice(what, plan, actual)
            if actual is not None:
                self._stripe_id_field("Order", order_id, _order_names(plan, actual), what)
            status = record.get("Resolution_Status__c") if record else None
            if status != "Success":
                message = record.get("Resolution_Message__c") if record else None
                self.report.add(f"{what}: Sync Record is {status!r} ({message!r}), not Success")
        self.report.expected["subscription_schedule"] = expected_schedules
        self.report.expected["invoice"] = expected_invoices
        self._amendment_orders(schedules, records)
        explained = set(self.x.plans) | self.x.tolerated_orders
        for kind, found in (("schedule", schedules), ("invoice", invoices)):
            for order_id in found.keys() - explained:
                ids = [o["id"] for o in found[order_id]]
                self.report.add(f"unexpected: {kind} {ids} for Order {order_id}")

    def _contract_schedule(self, what: str, order_id: str, actual: dict[str, Any]) -> None:
        """The schedule against the contract's recomputed from Salesforce alone (A1, A2)."""
        expected = expected_schedule(self.org.records, order_id)
        for problem in schedule_mismatches(expected, actual):
            self.report.add(f"{what}: contract schedule {actual['id']}: {problem}")

    def _shaped_schedule(
        self,
        what: str,
        order_id: str,
        actual: dict[str, Any],
        schedules: Mapping[str, list[dict[str, Any]]],
    ) -> None:
        """The schedule against the order's recomputed from Salesforce alone, for the shapes
        beyond one plain phase (A3-A6, O7: ``shape_schedule``)."""
        expected = expected_order(self.org.records, order_id)
        prices = {p["id"]: p for p in self.stripe.objects.get("price", [])}
        label = f"{what} ({', '.join(expected.shapes)}): schedule {actual['id']}"
        made = {
            d["id"]: str(d["source"]["coupon"]) for d in self.stripe.objects.get("discount", [])
        }
        for problem in order_mismatches(expected, actual, prices, self.coupon_ids, made):
            self.report.add(f"{label}: {problem}")
        renewed = schedules.get(expected.renews or "") or []
        if "renewal" in expected.shapes and any(s["id"] == actual["id"] for s in renewed):
            self.report.add(f"{label}: is the renewed contract's schedule, not one of its own")

    def _amendment_orders(
        self,
        schedules: Mapping[str, list[dict[str, Any]]],
        records: Mapping[Any, dict[str, Any]],
    ) -> None:
        """Each amendment order names its contract's schedule and has its own Success record."""
        self.report.expected["amendment order"] = len(self.x.amendments)
        for order_id, initial in sorted(self.x.amendments.items()):
            plan = self.x.plans.get(initial)
            if plan is None or plan.status != "ready":
                continue  # the contract's refusal or skip is checked on its initial order
            what = f"amendment Order {order_id} (of Order {initial})"
            found = schedules.get(initial) or []
            if found:
                self._stripe_id_field("Order", order_id, found[0]["id"], what)
            record = records.get(order_id)
            status = record.get("Resolution_Status__c") if record else None
            if status != "Success":
                message = record.get("Resolution_Message__c") if record else None
                self.report.add(f"{what}: Sync Record is {status!r} ({message!r}), not Success")

    def _refused(
        self,
        order_id: str,
        plan: Plan,
        record: Mapping[str, Any] | None,
        schedules: Mapping[str, list[dict[str, Any]]],
        invoices: Mapping[str, list[dict[str, Any]]],
    ) -> None:
        what = f"Order {order_id} (refused: {plan.errors[0].message})"
        if schedules.get(order_id) or invoices.get(order_id):
            self.report.add(f"{what}: has Stripe objects")
        # R4: each error's Sync Record names the record at fault as its secondary (an order
        # line, an entry, or the Order itself), so its external id is "<order>-<at fault>".
        at_fault = {
            f"{order_id}-{error.record.id}": error for error in plan.errors if error.reported
        }
        found = {
            r.get("Compound_ID__c"): r
            for r in self.org.sync_records
            if r.get("Compound_ID__c") in at_fault
        }
        messages = []
        for compound, error in at_fault.items():
            at = found.get(compound)
            status = at.get("Resolution_Status__c") if at else None
            if status != "Error":
                self.report.add(
                    f"{what}: Sync Record of {error.record.object_type} {error.record.id} "
                    f"is {status!r}, not Error"
                )
                continue
            message = str(at.get("Resolution_Message__c") or "") if at else ""
            if error.message not in message:
                self.report.add(f"{what}: Sync Record message {message!r} lacks {error.message!r}")
            messages.append(message)
        documented = self.org.expected_errors.get(order_id)
        if documented and messages and not any(documented in m for m in messages):
            self.report.add(f"{what}: no Error Sync Record says {documented!r}")

    def _price_of(self, value: Any, plan: Plan) -> dict[str, Any] | None:
        """The planned parameters of the price a schedule or invoice line names."""
        if is_ref(value):
            op_id = value["$ref"].rsplit(".", 1)[0]
            op = next((o for o in plan.operations if o.id == op_id), None)
            return None if op is None else self._resolved_price_shape(op)
        return None

    def _lines(
        self,
        what: str,
        plan: Plan,
        wanted: list[dict[str, Any]],
        have: list[dict[str, Any]],
        price_of: Any,
    ) -> None:
        by_item = {
            (line.get("metadata") or {}).get("salesforce_order_item_id"): line for line in have
        }
        if len(have) != len(wanted):
            self.report.add(f"{what}: {len(have)} lines, expected {len(wanted)}")
        for line in wanted:
            item = line["metadata"]["salesforce_order_item_id"]
            actual = by_item.get(item)
            if actual is None:
                self.report.add(f"{what}: no line for OrderItem {item}")
                continue
            for problem in mismatches(line.get("quantity"), actual.get("quantity"), "quantity"):
                self.report.add(f"{what} line {item}: {problem}")
            if "price_data" in line:  # inline (sync.inline_line_prices): made inactive
                shape: dict[str, Any] | None = {**_price_shape(line["price_data"]), "active": False}
            else:
                shape = self._price_of(line["price"], plan)
            price = self.stripe.by_id.get(str(price_of(actual)))
            if shape is None or price is None:
                self.report.add(f"{what} line {item}: price {price_of(actual)!r} not found")
                continue
            for problem in mismatches(shape, price):
                self.report.add(f"{what} line {item} price {price['id']}: {problem}")

    def _schedule(self, what: str, plan: Plan, actual: dict[str, Any]) -> None:
        op = next(o for o in plan.operations if o.kind == "subscription_schedule.create")
        customer = self.customers.get(plan_account(plan))
        if actual.get("customer") != customer:
            self.report.add(
                f"{what}: schedule {actual['id']} bills {actual.get('customer')}, "
                f"the account's customer is {customer}"
            )
        # start_date is a request parameter: Stripe keeps it as the first phase's start.
        self._compare(f"schedule of {what}", op, actual, skip={"phases", "customer", "start_date"})
        # Several phases: an uneven term's final phase (O7), MDQ segments (A6).
        wanted = op.params["phases"]
        phases = actual.get("phases") or []
        if len(phases) != len(wanted):
            self.report.add(
                f"{what}: schedule {actual['id']} has {len(phases)} phases, expected {len(wanted)}"
            )
            return
        for index, (phase, got) in enumerate(zip(wanted, phases, strict=True)):
            at = f"{what} phase {index}"
            skip = ("items", "add_invoice_items", "discounts")
            plain = {k: v for k, v in phase.items() if k not in skip}
            if index == 0 and "start_date" in op.params:
                plain["start_date"] = op.params["start_date"]
            for problem in mismatches(plain, got):
                self.report.add(f"{at}: {problem}")
            # A5: coupons are created by the plan (refs); each phase holds one discount each.
            if len(phase.get("discounts") or []) != len(got.get("discounts") or []):
                self.report.add(f"{at}: discounts {got.get('discounts')!r}")
            self._lines(at, plan, phase["items"], got.get("items") or [], lambda i: i.get("price"))
            self._lines(
                at,
                plan,
                phase.get("add_invoice_items") or [],
                got.get("add_invoice_items") or [],
                lambda i: i.get("price"),
            )

    def _invoice(self, what: str, plan: Plan, actual: dict[str, Any]) -> None:
        op = next(o for o in plan.operations if o.kind == "invoice.create")
        customer = self.customers.get(plan_account(plan))
        if actual.get("customer") != customer:
            self.report.add(f"{what}: invoice {actual['id']} bills {actual.get('customer')}")
        # request-only parameters: how to build the invoice, not what it holds
        self._compare(
            f"invoice of {what}",
            op,
            actual,
            skip={"customer", "auto_advance", "pending_invoice_items_behavior"},
        )
        if actual.get("status") != "open":
            self.report.add(f"{what}: invoice {actual['id']} is {actual.get('status')}, not open")
        wanted = [
            {**o.params, "price": o.params["pricing"]["price"]}
            for o in plan.operations
            if o.kind == "invoiceitem.create"
        ]
        have = [
            i
            for i in self.stripe.objects.get("invoiceitem", [])
            if i.get("invoice") == actual["id"]
        ]
        self._lines(what, plan, wanted, have, _invoice_line_price)


def _invoice_line_price(line: Mapping[str, Any]) -> Any:
    pricing = line.get("pricing") or {}
    price = (pricing.get("price_details") or {}).get("price") or line.get("price")
    return price.get("id") if isinstance(price, dict) else price


def plan_account(plan: Plan) -> str:
    return next(op.source.id for op in plan.operations if op.source.object_type == "Account")


def _order_names(plan: Plan, actual: Mapping[str, Any]) -> str:
    """What the Order's Stripe_ID__c names: the object made for it, or (an evergreen order,
    A4: its writeback reads the schedule's ``subscription``) the subscription once started."""
    started = actual.get("subscription") or actual.get("released_subscription")
    evergreen = any(
        w.field == "Stripe_ID__c" and w.attribute == "subscription"
        for op in plan.operations
        for w in op.writeback
    )
    return str(started) if evergreen and started else str(actual["id"])
