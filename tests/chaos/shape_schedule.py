"""What Stripe must hold for an order of the shapes beyond one plain phase, recomputed from
Salesforce's records alone (A3-A6, O7), for the checker.

Independent of the planner, like ``contract_schedule``: it reads the org's Order, OrderItem,
quote, Contract and ``Order_Stripe_Coupon__c`` records and applies the spec's rules directly.
An order's shapes (several may hold at once) and what each asks of its schedule:

- every shape: one schedule of the order, from the quote's start (midnight UTC); each recurring
  line an item with the line's quantity and a price of ``recurring.interval = month``, the line's
  billing months as ``interval_count`` (P3) and its per-period amount (P5: ``UnitPrice`` over the
  term's billing periods), in the order's currency;
- **MDQ** (A6): one phase per segment index, Year/Quarter/Month segments 12/3/1 months from the
  start (the last ending with the term), Custom ones from the line's ``ServiceDate`` to its
  ``EndDate``; a phase holds its segment's lines (priced over the segment's months) and every
  plain line (priced over the term);
- **evergreen** (A4): one phase of the quote's term (1 month) whose end releases the
  subscription (``end_behavior: release``: a plain Subscription with no end), priced per
  billing period as the line's ``UnitPrice``, invoiced (``collection_method: send_invoice``)
  with ``days_until_due`` from the payment term (O4: the order's, else the quote's);
- **uneven term** (O7): the whole billing periods, then a final phase of the remainder whose
  items bill the per-period amount x remainder / period at an interval of the remainder's
  months, anchored at the phase's start;
- **renewal** (A3): all of the above for the renewal order itself, in a schedule of its own
  (the checker also asks that it is not the renewed contract's);
- **coupons** (A5): each ``Order_Stripe_Coupon__c`` of the order is one Stripe coupon with its
  terms (``percent_off`` XOR ``amount_off`` in minor units with the currency, ``duration``,
  ``duration_in_months`` when repeating, ``max_redemptions``, ``name``), named by the record's
  ``Stripe_ID__c``; an order-level one discounts every phase, a line-level one that line's item
  in every phase.

Otherwise everything else ends with the term (``end_behavior: cancel``). Only orders that start
in the future are modelled (the chaos workload makes no others).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from tests.chaos.contract_schedule import Records, add_months, as_date, epoch_day, segment_period

_INTERVALS = {None: 1, "": 1, "Monthly": 1, "Quarterly": 3, "Semiannual": 6, "Annual": 12}
# Amounts compare to a millionth of a minor unit (Stripe keeps 12 decimal places).
_PRECISION = Decimal("0.000001")


@dataclass(frozen=True)
class ExpectedItem:
    quantity: int
    amount: Decimal  # per billing period, in minor units
    interval_months: int
    coupons: frozenset[str] = frozenset()  # Order_Stripe_Coupon__c ids (line-level)


@dataclass(frozen=True)
class ExpectedPhase:
    start: dt.date
    end: dt.date
    items: dict[str, ExpectedItem]  # order item id -> item
    coupons: frozenset[str]  # Order_Stripe_Coupon__c ids (order-level)
    anchored: bool = False  # billing_cycle_anchor: phase_start (O7's final period)


@dataclass(frozen=True)
class ExpectedOrder:
    shapes: tuple[str, ...]
    currency: str
    phases: list[ExpectedPhase]
    end_behavior: str
    coupons: dict[str, dict[str, Any]] = field(default_factory=dict)  # record id -> terms
    renews: str | None = None  # the renewed contract's initial order
    days_until_due: int | None = None  # evergreen: invoiced, due after the payment term (A4)


def shapes_of(records: Records, order_id: str) -> tuple[str, ...]:
    """The shapes of an order this module models (empty: a plain order, or one it does not
    model: no quote, metered lines, or lines of several billing intervals)."""
    order = records["Order"][order_id]
    if str(order.get("SBQQ__Quote__c")) not in records["SBQQ__Quote__c"]:
        return ()
    lines = _recurring_lines(records, order_id)
    if not lines or any(line.get("SBQQ__BillingType__c") == "Arrears" for line in lines):
        return ()
    if len({_interval(line) for line in lines}) != 1:
        return ()
    shapes = []
    if order.get("Type") == "Renewal":
        shapes.append("renewal")
    if any(line.get("SBQQ__SegmentIndex__c") for line in lines):
        shapes.append("mdq")
    evergreen = any(line.get("SBQQ__SubscriptionType__c") == "Evergreen" for line in lines)
    if evergreen:
        shapes.append("evergreen")
    elif _term(records, order) % _interval(lines[0]):
        shapes.append("uneven term")
    if _coupon_records(records, order_id):
        shapes.append("coupon")
    return tuple(shapes)


def expected_order(records: Records, order_id: str) -> ExpectedOrder:
    order = records["Order"][order_id]
    quote = records["SBQQ__Quote__c"][str(order["SBQQ__Quote__c"])]
    lines = _recurring_lines(records, order_id)
    start, term = as_date(quote["SBQQ__StartDate__c"]), _term(records, order)
    interval = _interval(lines[0])
    currency = str(order.get("CurrencyIsoCode") or "USD").lower()
    coupons = _coupon_records(records, order_id)
    on_order = frozenset(c for c, r in coupons.items() if not r.get("Order_Item__c"))
    on_line: dict[str, frozenset[str]] = {}
    for coupon, record in coupons.items():
        if record.get("Order_Item__c"):
            line = str(record["Order_Item__c"])
            on_line[line] = on_line.get(line, frozenset()) | {coupon}

    def item(line: Mapping[str, Any], months: int) -> ExpectedItem:
        """``line`` priced over ``months`` (its term or segment) per billing period."""
        amount = _minor(line["UnitPrice"]) * interval / months
        coupons = on_line.get(str(line["Id"]), frozenset())
        return ExpectedItem(int(line["Quantity"]), amount, interval, coupons)

    shapes = shapes_of(records, order_id)
    end = add_months(start, term)
    if "evergreen" in shapes:
        # the price is per billing period: no term to divide by
        items = {str(li["Id"]): item(li, interval) for li in lines}
        phases = [ExpectedPhase(start, end, items, on_order)]
    elif "mdq" in shapes:
        phases = _segment_phases(lines, start, end, on_order, item, term)
    else:
        remainder = term % interval
        whole = term - remainder
        items = {str(li["Id"]): item(li, term) for li in lines}
        phases = [ExpectedPhase(start, add_months(start, whole), items, on_order)] if whole else []
        if remainder:
            # O7: the remainder's share of a period's amount, billed every remainder months
            final = {
                line: replace(i, amount=i.amount * remainder / interval, interval_months=remainder)
                for line, i in items.items()
            }
            phases.append(ExpectedPhase(add_months(start, whole), end, final, on_order, True))
    renewed = _renewed_contract(records, quote) if "renewal" in shapes else None
    renews = str(renewed["SBQQ__Order__c"]) if renewed and renewed.get("SBQQ__Order__c") else None
    return ExpectedOrder(
        shapes=shapes,
        currency=currency,
        phases=phases,
        end_behavior="release" if "evergreen" in shapes else "cancel",
        coupons={c: coupon_terms(r, currency) for c, r in coupons.items()},
        renews=renews,
        days_until_due=(
            _days(order.get("SBQQ__PaymentTerm__c") or quote.get("SBQQ__PaymentTerm__c"))
            if "evergreen" in shapes
            else None
        ),
    )


def _segment_phases(
    lines: list[Mapping[str, Any]],
    start: dt.date,
    end: dt.date,
    on_order: frozenset[str],
    item: Callable[[Mapping[str, Any], int], ExpectedItem],
    term: int,
) -> list[ExpectedPhase]:
    plain = {str(li["Id"]): item(li, term) for li in lines if not li.get("SBQQ__SegmentIndex__c")}
    by_index: dict[int, list[Mapping[str, Any]]] = {}
    for line in lines:
        if line.get("SBQQ__SegmentIndex__c"):
            by_index.setdefault(int(line["SBQQ__SegmentIndex__c"]), []).append(line)
    phases = []
    for index in sorted(by_index):
        begins, ends = segment_period(by_index[index][0], start, end)
        months = _months(begins, ends)
        items = {**plain, **{str(li["Id"]): item(li, months) for li in by_index[index]}}
        phases.append(ExpectedPhase(begins, ends, items, on_order))
    return phases


def order_mismatches(
    expected: ExpectedOrder,
    schedule: Mapping[str, Any],
    prices: Mapping[str, Mapping[str, Any]],
    coupon_ids: Mapping[str, str],
    discount_coupons: Mapping[str, str] | None = None,
) -> list[str]:
    """How the Stripe schedule differs from ``expected``. ``prices``: Stripe's prices by id;
    ``coupon_ids``: the Stripe coupon each ``Order_Stripe_Coupon__c`` became;
    ``discount_coupons``: the coupon of each discount Stripe made (a phase entry that reused
    a discount names no coupon, A5)."""
    made = discount_coupons or {}
    out = []
    if schedule.get("end_behavior") != expected.end_behavior:
        out.append(
            f"end_behavior {schedule.get('end_behavior')!r}, expected {expected.end_behavior!r}"
        )
    if expected.days_until_due is not None:
        settings = schedule.get("default_settings") or {}
        invoicing = (
            settings.get("collection_method"),
            (settings.get("invoice_settings") or {}).get("days_until_due"),
        )
        if invoicing != ("send_invoice", expected.days_until_due):
            out.append(
                f"(collection_method, days_until_due) {invoicing}, "
                f"expected ('send_invoice', {expected.days_until_due})"
            )
    phases = schedule.get("phases") or []
    got = [(epoch_day(p.get("start_date")), epoch_day(p.get("end_date"))) for p in phases]
    want = [(p.start, p.end) for p in expected.phases]
    if got != want:
        return [*out, f"phases (start, end) {got}, expected {want}"]
    for index, (phase, held) in enumerate(zip(expected.phases, phases, strict=True)):
        at = f"phase {index}"
        discounts = _coupons(held.get("discounts"), made)
        if discounts != _stripe_ids(phase.coupons, coupon_ids):
            out.append(
                f"{at}: discounts {sorted(discounts)}, expected coupons of {sorted(phase.coupons)}"
            )
        if phase.anchored and held.get("billing_cycle_anchor") != "phase_start":
            out.append(
                f"{at}: billing_cycle_anchor {held.get('billing_cycle_anchor')!r}, "
                "expected 'phase_start'"
            )
        items = {
            str((i.get("metadata") or {}).get("salesforce_order_item_id")): i
            for i in held.get("items") or []
        }
        if set(items) != set(phase.items):
            out.append(
                f"{at}: items of order items {sorted(items)}, expected {sorted(phase.items)}"
            )
            continue
        for line, want_item in phase.items.items():
            out.extend(
                f"{at} item of OrderItem {line}: {problem}"
                for problem in _item_mismatches(
                    want_item, items[line], prices, coupon_ids, made, expected.currency
                )
            )
    return out


def _item_mismatches(
    want: ExpectedItem,
    held: Mapping[str, Any],
    prices: Mapping[str, Mapping[str, Any]],
    coupon_ids: Mapping[str, str],
    made: Mapping[str, str],
    currency: str,
) -> list[str]:
    out = []
    if held.get("quantity") != want.quantity:
        out.append(f"quantity {held.get('quantity')}, expected {want.quantity}")
    discounts = _coupons(held.get("discounts"), made)
    if discounts != _stripe_ids(want.coupons, coupon_ids):
        out.append(f"discounts {sorted(discounts)}, expected coupons of {sorted(want.coupons)}")
    price = prices.get(str(held.get("price")))
    if price is None:
        return [*out, f"price {held.get('price')!r} not found"]
    recurring = price.get("recurring") or {}
    shape = (
        price.get("currency"),
        recurring.get("interval"),
        recurring.get("interval_count"),
        _amount(price.get("unit_amount_decimal")),
    )
    wanted = (currency, "month", want.interval_months, want.amount.quantize(_PRECISION))
    if shape != wanted:
        out.append(
            f"price {price['id']} (currency, interval, interval_count, amount) {shape}, "
            f"expected {wanted}"
        )
    return out


def coupon_mismatches(terms: Mapping[str, Any], coupon: Mapping[str, Any]) -> list[str]:
    """How a Stripe coupon differs from an ``Order_Stripe_Coupon__c``'s terms."""
    return [
        f"{key} {coupon.get(key)!r}, expected {value!r}"
        for key, value in terms.items()
        if coupon.get(key) != value
    ]


def coupon_terms(record: Mapping[str, Any], currency: str) -> dict[str, Any]:
    terms: dict[str, Any] = {
        "duration": record.get("Duration__c"),
        "name": record.get("Name__c"),
        "max_redemptions": _whole(record.get("Max_Redemptions__c")),
        "duration_in_months": (
            _whole(record.get("Duration_In_Months__c"))
            if record.get("Duration__c") == "repeating"
            else None
        ),
    }
    if record.get("Percent_Off__c") is not None:
        terms.update(percent_off=float(record["Percent_Off__c"]), amount_off=None)
    else:
        code = str(record.get("CurrencyIsoCode") or currency).lower()
        terms.update(
            percent_off=None, amount_off=int(_minor(record["Amount_Off__c"])), currency=code
        )
    return terms


# --- reading the records ----------------------------------------------------------------------


def _recurring_lines(records: Records, order_id: str) -> list[Mapping[str, Any]]:
    return sorted(
        (
            line
            for line in records["OrderItem"].values()
            if str(line.get("OrderId")) == order_id
            and not line.get("IsDeleted")
            and not line.get("Skip_Line_Item__c")
            and _recurring(line)
            and float(line.get("UnitPrice") or 0) >= 0
        ),
        key=lambda line: str(line["Id"]),
    )


def _recurring(line: Mapping[str, Any]) -> bool:
    """P2: a recurring line has a subscription pricing (CPQ's charge type says so too)."""
    return line.get("SBQQ__ChargeType__c") == "Recurring" or bool(
        line.get("SBQQ__SubscriptionPricing__c")
    )


def _coupon_records(records: Records, order_id: str) -> dict[str, Mapping[str, Any]]:
    return {
        coupon_id: record
        for coupon_id, record in records.get("Order_Stripe_Coupon__c", {}).items()
        if str(record.get("Order__c")) == order_id and not record.get("IsDeleted")
    }


def _renewed_contract(records: Records, quote: Mapping[str, Any]) -> Mapping[str, Any] | None:
    opportunity = records.get("Opportunity", {}).get(str(quote.get("SBQQ__Opportunity2__c")))
    renewed = (opportunity or {}).get("SBQQ__RenewedContract__c")
    return records["Contract"].get(str(renewed)) if renewed else None


def _term(records: Records, order: Mapping[str, Any]) -> int:
    quote = records["SBQQ__Quote__c"][str(order["SBQQ__Quote__c"])]
    return int(quote.get("SBQQ__SubscriptionTerm__c") or 12)


def _interval(line: Mapping[str, Any]) -> int:
    return _INTERVALS.get(line.get("SBQQ__BillingFrequency__c"), 1)


def _coupons(discounts: Any, made: Mapping[str, str]) -> set[str]:
    """The coupons of a phase's (or item's) discount entries: the one an entry names, else
    the one the discount it reused was made of (an unknown discount stays visible)."""
    out = set()
    for entry in discounts or []:
        discount = entry.get("discount")
        if isinstance(discount, Mapping):
            reused = (discount.get("source") or {}).get("coupon")
        else:
            reused = made.get(str(discount)) if discount else None
        out.add(str(entry.get("coupon") or reused or f"<discount {discount}>"))
    return out


def _stripe_ids(records: frozenset[str], coupon_ids: Mapping[str, str]) -> set[str]:
    """The Stripe coupons of ``records`` (a record without one: a name no coupon has)."""
    return {coupon_ids.get(r, f"<none for {r}>") for r in records}


def _days(payment_term: Any) -> int:
    """O4: ``Net 30`` (or ``Net-30``, ``30``) is due in 30 days."""
    return int(float(str(payment_term).replace("Net", "").strip(" -")))


def _minor(value: Any) -> Decimal:
    return Decimal(str(value)) * 100


def _whole(value: Any) -> int | None:
    return None if value is None else int(value)


def _amount(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(_PRECISION)


def _months(start: dt.date, end: dt.date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month
