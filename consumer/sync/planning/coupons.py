"""Coupons (rule A5): the connector package's coupon records become Stripe coupons.

On activation the package copies a quote's coupons (``Quote_Stripe_Coupon__c``, attached by
``Quote_Stripe_Coupon_Association__c``) and its lines' coupons
(``Quote_Line_Stripe_Coupon_Association__c``) to ``Order_Stripe_Coupon__c`` records on the
order (``Order__c``; relationship ``Order_Lookup__r``) or on one order line (``Order_Item__c``;
relationship ``Order_Item_Lookup__r``). Each record becomes one Stripe coupon, created once:

- id ``sf_coupon_<record id>`` (``sfsbx_coupon_…`` from a sandbox), so a retry names the same
  coupon; metadata ``salesforce_order_stripe_coupon_id``; its ``Stripe_ID__c`` (written back)
  marks it created, and a coupon id there is used as is (K2);
- a record without ``Stripe_ID__c`` is looked up in Stripe by its id first (an attempt made the
  coupon and never wrote it back, or its idempotency key expired): Stripe refuses a second
  coupon with the same id, and a coupon's terms never change (only ``name`` and ``metadata``
  can be updated). The coupon found is used when its terms are the record's (a changed name is
  updated); terms that differ are a Data Error naming the coupon: the record must become a new
  coupon, or Stripe's must be deleted;
- ``percent_off`` (0 < p <= 100) XOR ``amount_off`` (in the order's currency, minor units);
  ``duration`` once, forever or repeating with ``duration_in_months``; ``max_redemptions``;
  ``name``.

The ``coupon`` mapping block (field defaults; custom mappings from the Order, its Account or
quote) lays over these parameters (M3). Order-level coupons are every phase's ``discounts`` (a
phase without ``discounts`` would take the customer's instead); line-level ones are the
``discounts`` of that line's item in every phase.
On an order of one-time lines only, which is an invoice (O3), order-level coupons are the
invoice's ``discounts`` and line-level ones that line's invoice item's ``discounts``
(``invoice_discounts``); every duration is accepted there: a coupon's duration says how long it
discounts a subscription, and an invoice of its own is discounted once whatever it says.
A record breaking these rules is a Data Error naming it. On an amended contract
(``contracts.py``), a coupon on an amendment line that changes a sold line's quantity discounts
that line's item (its whole quantity: Stripe discounts an item, not some of its units) from the
amendment's phase on.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from consumer.sync.mapping.data_error import DataError
from consumer.sync.mapping.evaluate import apply_mapping
from consumer.sync.planning.amounts import minor_unit_exponent
from consumer.sync.planning.builder import PlanBuilder
from consumer.sync.planning.context import PlanningContext
from consumer.sync.planning.identity import metadata_key, record_metadata
from consumer.sync.planning.plan import SourceRecord, WriteBack, ref
from consumer.sync.planning.views import CouponView, MappingSources, OrderItemView, OrderView
from cpqsync.mapping.coercion import CoercionError

COUPON_OBJECT = "Order_Stripe_Coupon__c"
DURATIONS = ("once", "repeating", "forever")
MAX_NAME = 40  # Stripe's limit on a coupon's name


def coupon_records(order: OrderView) -> list[CouponView]:
    """Every coupon record of the order: its own and its lines'."""
    return [*order.coupons, *(c for line in order.lines for c in line.coupons)]


def has_coupons(order: OrderView) -> bool:
    return bool(order.coupons or any(line.coupons for line in order.lines))


def coupon_id(record_id: str, *, sandbox: bool) -> str:
    return f"sfsbx_coupon_{record_id}" if sandbox else f"sf_coupon_{record_id}"


def plan_discounts(
    builder: PlanBuilder,
    order: OrderView,
    phase_params: dict[str, Any],
    items: list[dict[str, Any]],
    lines: Sequence[OrderItemView],
    context: PlanningContext,
    *,
    currency: str,
) -> None:
    """Plan the order's coupons; put them on the phase (order-level) and on the items of their
    lines (line-level). Every coupon record is checked; each fault is that record's (R4)."""
    sources = _sources(order)
    discounts = order_discounts(builder, order, context, currency=currency)
    if discounts:
        phase_params["discounts"] = discounts
    line_key = metadata_key("salesforce_order_item_id", sandbox=context.sandbox)
    by_line = {str((item.get("metadata") or {}).get(line_key)): item for item in items}
    for line in lines:
        item = by_line.get(line.id)
        records = line.coupons
        if not records:
            continue
        coupons = [
            c for r in records if (c := _coupon(builder, r, sources, context, currency)) is not None
        ]
        if item is None:
            with builder.blame(SourceRecord(COUPON_OBJECT, records[0].id), contain=True):
                raise _not_recurring(records[0], line.id)
            continue
        if coupons:
            item["discounts"] = [{"coupon": c} for c in coupons]


def _sources(order: OrderView) -> MappingSources:
    """What the ``coupon`` mapping block reads (M3)."""
    return {
        "Order": order.raw,
        "Account": order.account.raw if order.account is not None else {},
        "SBQQ__Quote__c": order.quote.raw,
    }


def order_discounts(
    builder: PlanBuilder, order: OrderView, context: PlanningContext, *, currency: str
) -> list[dict[str, Any]]:
    """The order's own coupons as a phase's ``discounts`` (each planned once, A5)."""
    sources = _sources(order)
    return [
        {"coupon": coupon}
        for record in order.coupons
        if (coupon := _coupon(builder, record, sources, context, currency)) is not None
    ]


def change_line_discounts(
    builder: PlanBuilder,
    amendment: OrderView,
    lines: Sequence[OrderItemView],
    context: PlanningContext,
    *,
    currency: str,
    has_item: Callable[[str], bool],
) -> dict[str, list[dict[str, Any]]]:
    """A5 for contracts: the coupons of amendment lines that change a sold line's quantity, as
    item ``discounts`` by the order product each revises (``has_item``: whether that product
    is a recurring line of the contract). Stripe discounts a phase item whole, not some of its
    units, so such a coupon discounts the line it changes (all of its quantity) from the
    amendment's phase on, after the line's own coupons."""
    sources = _sources(amendment)
    out: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        revised = line.revises
        records = line.coupons
        if not (revised and records):
            continue
        if not has_item(revised):
            with builder.blame(SourceRecord(COUPON_OBJECT, records[0].id), contain=True):
                raise _not_recurring(records[0], line.id)
            continue
        coupons = [
            {"coupon": coupon}
            for record in records
            if (coupon := _coupon(builder, record, sources, context, currency)) is not None
        ]
        if coupons:
            out.setdefault(revised, []).extend(coupons)
    return out


@dataclass(frozen=True)
class InvoiceDiscounts:
    """A5 on an order of one-time lines only (O3): the invoice's coupons and each line's."""

    invoice: list[PlannedCoupon] = field(default_factory=list)
    lines: dict[str, list[PlannedCoupon]] = field(default_factory=dict)  # order item id ->


def discounts_param(coupons: Sequence[PlannedCoupon]) -> list[dict[str, Any]]:
    """Stripe's ``discounts`` for the coupons, as the request sends them."""
    return [{"coupon": coupon.ref} for coupon in coupons]


def discounts_key(coupons: Sequence[PlannedCoupon]) -> list[dict[str, Any]]:
    """The same ``discounts`` as an idempotency key spells them: by the coupons' ids, which a
    first attempt names by placeholder and a retry by id (the invoice's key must not change,
    or a retry makes a second draft invoice: see ``_plan_invoice`` in orders.py)."""
    return [{"coupon": coupon.id} for coupon in coupons]


def invoice_discounts(
    builder: PlanBuilder,
    order: OrderView,
    lines: Sequence[OrderItemView],
    invoiced: Collection[str],
    context: PlanningContext,
    *,
    currency: str,
) -> InvoiceDiscounts:
    """Plan the coupons of an order that becomes an invoice (O3): the order's discount the
    invoice, each line's its invoice item (``invoiced``: the lines that have one). Every
    record is checked; each fault is that record's (R4). Any duration: an invoice is
    discounted once, whatever a coupon's duration says it would do to a subscription."""
    sources = _sources(order)
    planned = InvoiceDiscounts(
        [
            coupon
            for record in order.coupons
            if (coupon := _planned_coupon(builder, record, sources, context, currency))
        ]
    )
    for line in lines:
        records = line.coupons
        if not records:
            continue
        coupons = [
            coupon
            for record in records
            if (coupon := _planned_coupon(builder, record, sources, context, currency))
        ]
        if line.id not in invoiced:
            with builder.blame(SourceRecord(COUPON_OBJECT, records[0].id), contain=True):
                raise DataError(
                    "A5",
                    f"Coupon {_label(records[0])} is on OrderItem {line.id}, which bills no "
                    "invoice item to discount (a line with a negative unit price is skipped, "
                    "P9)",
                )
            continue
        if coupons:
            planned.lines[line.id] = coupons
    return planned


def _not_recurring(record: CouponView, line_id: str) -> DataError:
    """A5: a line coupon on a line that has no subscription item to discount."""
    return DataError(
        "A5",
        f"Coupon {_label(record)} is on OrderItem {line_id}, which is not a recurring line of "
        "the subscription; line coupons apply to recurring lines",
    )


def _label(record: CouponView) -> str:
    name = record.field("Name__c")
    return f"{record.id} ({name})" if name else record.id


@dataclass(frozen=True)
class PlannedCoupon:
    """One coupon record's Stripe coupon: ``ref`` as a request names it (its id, or the
    placeholder of the create that makes it) and ``id``, the id it has or will have."""

    ref: str | dict[str, str]
    id: str


def _coupon(
    builder: PlanBuilder,
    record: CouponView,
    sources: MappingSources,
    context: PlanningContext,
    currency: str,
) -> str | dict[str, str] | None:
    """The coupon's id, or the placeholder of the create that makes it; None if it fails."""
    planned = _planned_coupon(builder, record, sources, context, currency)
    return planned.ref if planned is not None else None


def _planned_coupon(
    builder: PlanBuilder,
    record: CouponView,
    sources: MappingSources,
    context: PlanningContext,
    currency: str,
) -> PlannedCoupon | None:
    """The record's coupon, planned once (created, or found in Stripe); None if it fails."""
    record_id = record.id
    existing = record.stripe_id
    if existing and not existing.startswith("http"):
        # Created already (its id written back), or set by hand (K2).
        return PlannedCoupon(existing, existing)
    source = SourceRecord(COUPON_OBJECT, record_id)
    with builder.blame(source, contain=True):
        # M3/M4: the `coupon` block's field defaults and custom mappings (from the order).
        params = apply_mapping(
            coupon_params(record, context, currency),
            context.settings.mappings.coupon,
            sources,
            label="coupon",
        ).params
        operation = f"coupon:{record_id}"
        held = context.known.coupons.get(record_id)
        if held is not None:
            _reuse(builder, record, params, held, operation, source)
            return PlannedCoupon(str(held["id"]), str(held["id"]))
        builder.add(
            operation,
            "coupon.create",
            params,
            source,
            writeback=(WriteBack(source, "Stripe_ID__c"),),
        )
        made = str(params.get("id") or coupon_id(record_id, sandbox=context.sandbox))
        return PlannedCoupon(ref(operation), made)
    return None


# What a coupon bills, fixed once created: Stripe updates only a coupon's name and metadata.
TERMS = ("percent_off", "amount_off", "currency", "duration", "duration_in_months")


def _reuse(
    builder: PlanBuilder,
    record: CouponView,
    params: Mapping[str, Any],
    held: Mapping[str, Any],
    operation: str,
    source: SourceRecord,
) -> None:
    """Use the coupon Stripe holds under the record's id: same terms, or a Data Error (A5)."""
    differ = [
        f"{term} {_shown(params.get(term))} (Stripe has {_shown(held.get(term))})"
        for term in (*TERMS, "max_redemptions")
        if not _same_term(params.get(term), held.get(term))
    ]
    if differ:
        raise DataError(
            "A5",
            f"Coupon {_label(record)}: Stripe already has coupon {held['id']} with other terms: "
            f"{'; '.join(differ)}. A Stripe coupon's terms cannot change: delete coupon "
            f"{held['id']} in Stripe, or put the new terms on a new coupon record",
        )
    name = params.get("name")
    if name and name != held.get("name"):
        builder.add(
            operation,
            "coupon.update",
            {"name": name, "metadata": params.get("metadata") or {}},
            source,
            target=str(held["id"]),
        )


def _same_term(wanted: Any, held: Any) -> bool:
    if wanted is None or held is None:
        return wanted is None and held is None
    if isinstance(wanted, str) or isinstance(held, str):
        return str(wanted).lower() == str(held).lower()
    return Decimal(str(wanted)) == Decimal(str(held))


def _shown(value: Any) -> str:
    return "unset" if value is None else str(value)


def _number(record: CouponView, field: str) -> Decimal | None:
    try:
        return record.number(field)
    except CoercionError:
        raise DataError(
            "A5", f"Coupon {_label(record)}: {field} is not a number ({record.field(field)!r})"
        ) from None


def _whole(record: CouponView, field: str) -> int | None:
    number = _number(record, field)
    if number is None:
        return None
    if number <= 0 or number != number.to_integral_value():
        raise DataError(
            "A5", f"Coupon {_label(record)}: {field} must be a whole number above 0 ({number})"
        )
    return int(number)


def coupon_params(record: CouponView, context: PlanningContext, currency: str) -> dict[str, Any]:
    """Stripe's coupon parameters for one ``Order_Stripe_Coupon__c`` (A5)."""
    label = _label(record)
    percent = _number(record, "Percent_Off__c")
    amount = _number(record, "Amount_Off__c")
    if (percent is None) == (amount is None):
        raise DataError(
            "A5",
            f"Coupon {label} must set exactly one of Percent_Off__c and Amount_Off__c "
            f"(found {'both' if percent is not None else 'neither'})",
        )
    params: dict[str, Any] = {"id": coupon_id(record.id, sandbox=context.sandbox)}
    if percent is not None:
        if not 0 < percent <= 100:
            raise DataError(
                "A5", f"Coupon {label}: Percent_Off__c must be above 0 and at most 100 ({percent})"
            )
        params["percent_off"] = float(percent)
    else:
        assert amount is not None
        minor = amount.scaleb(minor_unit_exponent(currency))
        if amount <= 0 or minor != minor.to_integral_value():
            raise DataError(
                "A5",
                f"Coupon {label}: Amount_Off__c must be above 0 in whole {currency.upper()} "
                f"minor units ({amount})",
            )
        params["amount_off"] = int(minor)
        params["currency"] = currency
    duration = record.duration or "once"
    if duration not in DURATIONS:
        raise DataError(
            "A5", f"Coupon {label}: Duration__c must be once, repeating or forever ({duration})"
        )
    params["duration"] = duration
    months = _whole(record, "Duration_In_Months__c")
    if duration == "repeating":
        if months is None:
            raise DataError("A5", f"Coupon {label}: a repeating coupon needs Duration_In_Months__c")
        params["duration_in_months"] = months
    elif months is not None:
        raise DataError(
            "A5",
            f"Coupon {label}: Duration_In_Months__c is only for a repeating coupon "
            f"(Duration__c is {duration})",
        )
    redemptions = _whole(record, "Max_Redemptions__c")
    if redemptions is not None:
        params["max_redemptions"] = redemptions
    name = record.name
    if name:
        if len(name) > MAX_NAME:
            raise DataError(
                "A5",
                f"Coupon {label}: Name__c must be at most {MAX_NAME} characters, Stripe's limit "
                f"for a coupon's name ({len(name)})",
            )
        params["name"] = name
    params["metadata"] = record_metadata("order_stripe_coupon", record.id, context)
    return params


def keeping_discounts(
    phase: dict[str, Any], held: Sequence[tuple[str | None, str, str]], context: PlanningContext
) -> dict[str, Any]:
    """A5: the phase's coupons that the running phase holds a discount for, as that discount
    (``{"discount": id}``, matched by coupon on the phase itself and on each item by its
    line). Sent as ``{"coupon"}`` again, Stripe would make a new discount: a spent ``once``
    coupon would discount the next invoice again, a ``repeating`` one start its months over.
    Coupons the running phase does not hold (an amendment's new ones) stay coupons."""
    if not held:
        return phase
    key = metadata_key("salesforce_order_item_id", sandbox=context.sandbox)

    def kept(entries: list[dict[str, Any]], line: str | None) -> list[dict[str, Any]]:
        left = [(coupon, discount) for where, coupon, discount in held if where == line]
        out = []
        for entry in entries:
            match = next((pair for pair in left if pair[0] == entry.get("coupon")), None)
            if match is None:
                out.append(entry)
                continue
            left.remove(match)
            out.append({"discount": match[1]})
        return out

    result = dict(phase)
    if phase.get("discounts"):
        result["discounts"] = kept(phase["discounts"], None)
    items = []
    for item in phase.get("items") or ():
        line = (item.get("metadata") or {}).get(key)
        if item.get("discounts") and line:
            item = {**item, "discounts": kept(item["discounts"], str(line))}
        items.append(item)
    result["items"] = items
    return result
