"""Stripe prices for pricebook entries and order lines (rules P2-P9), and meters for metered ones.

Stripe prices are immutable, so the planner works with *signatures*: the parameters that make
a price what it is (product, currency, amount to 12 places, type, interval, usage type, tiers).
An order line reuses its pricebook entry's price when the signatures match (P6); a pricebook
entry whose signature changed gets a new price that takes over the lookup key, and the old one
is archived (P7).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, NamedTuple

from consumer.sync.mapping.data_error import DataError
from consumer.sync.mapping.evaluate import apply_mapping
from consumer.sync.planning.amounts import canonical_amount, minor_units
from consumer.sync.planning.billing_terms import interval_count, usage_type
from consumer.sync.planning.builder import PlanBuilder
from consumer.sync.planning.context import KnownPrice, PlanningContext
from consumer.sync.planning.identity import (
    AUTO_ARCHIVE,
    LEGACY_LINE_PRICE,
    metadata_key,
    meter_event_name,
    price_lookup_key,
    record_metadata,
    stripe_id_of,
)
from consumer.sync.planning.plan import SourceRecord, WriteBack, ref
from consumer.sync.planning.tiers import Tiers, tiers_from
from consumer.sync.planning.views import (
    EntryView,
    MappingSources,
    OrderItemView,
    ProductView,
    RecordView,
    ScheduleView,
)
from cpqsync.mapping.coercion import to_decimal

PriceRef = str | dict[str, str]


def price_signature(price: Mapping[str, Any]) -> tuple[Any, ...]:
    """What makes a price that price, from create params or a retrieved Stripe Price alike."""
    product = price.get("product")
    if isinstance(product, dict):
        product = product.get("id")
    recurring = price.get("recurring")
    if price.get("type") == "one_time" or not isinstance(recurring, dict):
        recurring_key = None
    else:
        recurring_key = (
            recurring.get("interval"),
            int(recurring.get("interval_count") or 1),
            recurring.get("usage_type") or "licensed",
        )
    tiers = price.get("tiers") or ()
    tier_key = tuple(
        (
            "inf" if tier.get("up_to") in (None, "inf") else int(tier["up_to"]),
            _amount_key(tier, "unit_amount"),
            _amount_key(tier, "flat_amount"),
        )
        for tier in tiers
    )
    return (
        product,
        str(price.get("currency") or "").lower(),
        recurring_key,
        "tiered" if tier_key else "per_unit",
        None if tier_key else _amount_key(price, "unit_amount"),
        price.get("tiers_mode") if tier_key else None,
        tier_key,
    )


def _amount_key(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(f"{name}_decimal")
    if value is None:
        value = data.get(name)
    if value is None:
        return None
    return canonical_amount(value)


def signatures_match(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return price_signature(a) == price_signature(b)


# What names a price rather than making it: never part of the P6 comparison.
_NAMING = frozenset({"metadata", "lookup_key", "transfer_lookup_key"})


def drafts_match(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Rule P6 on two drafts this module built, i.e. on their final parameters (defaults and
    custom mappings applied on each side): equal in everything but their naming.

    Amounts are already canonical strings, so plain equality decides; what usually differs is
    tested first (the hot path, once per order line)."""
    if (
        a.get("unit_amount_decimal") != b.get("unit_amount_decimal")
        or a.get("product") != b.get("product")
        or a.get("currency") != b.get("currency")
        or a.get("recurring") != b.get("recurring")
    ):
        return False
    keys = a.keys() | b.keys()
    return all(a.get(key) == b.get(key) for key in keys if key not in _NAMING)


# --- meters -------------------------------------------------------------------------------


def meter_operation_id(product2_id: str) -> str:
    return f"meter:{product2_id}"


def plan_meter(builder: PlanBuilder, product: ProductView, context: PlanningContext) -> PriceRef:
    """The billing meter a metered price of this product reports usage to (one per product)."""
    product2_id = product.id
    known = context.known.meters.get(product2_id)
    if known:
        return known
    operation_id = meter_operation_id(product2_id)
    name = product.name or product2_id
    builder.add(
        operation_id,
        "billing.meter.create",
        {
            "display_name": f"{name} usage"[:250],
            "event_name": meter_event_name(product2_id, sandbox=context.sandbox),
            "default_aggregation": {"formula": "sum"},
            "customer_mapping": {"event_payload_key": "stripe_customer_id", "type": "by_id"},
            "value_settings": {"event_payload_key": "value"},
        },
        SourceRecord("Product2", product2_id),
    )
    return ref(operation_id)


def _attach_meter(
    builder: PlanBuilder,
    params: dict[str, Any],
    product: ProductView,
    context: PlanningContext,
) -> None:
    recurring = params.get("recurring")
    if isinstance(recurring, dict) and recurring.get("usage_type") == "metered":
        recurring.setdefault("meter", plan_meter(builder, product, context))


# --- pricebook entry prices ------------------------------------------------------------------


class PriceDraft(NamedTuple):
    """Create parameters of a price not yet attached to a meter.

    A NamedTuple rather than a frozen dataclass: two are built per order line, and a tuple
    builds several times faster.
    """

    params: dict[str, Any]


def pricebook_price_params(
    entry: EntryView,
    product: ProductView,
    context: PlanningContext,
    *,
    currency: str,
    product_id: str,
) -> PriceDraft | None:
    """The price a pricebook entry stands for; None for a negative price (P9)."""
    entry_id = entry.id
    params: dict[str, Any] = {
        "currency": currency,
        "product": product_id,
        "lookup_key": price_lookup_key(entry_id, sandbox=context.sandbox),
    }
    if product.recurring:  # P2 from Product2
        params["recurring"] = {
            "interval": "month",
            "interval_count": interval_count(product.billing_frequency),
            "usage_type": usage_type(product.billing_type),
        }
    schedules = product.schedules
    tiers = (
        tiers_from(schedules, currency, where=f"PricebookEntry {entry_id}") if schedules else None
    )
    if tiers is not None:
        params.update(billing_scheme="tiered", tiers_mode=tiers.mode, tiers=tiers.tiers)
    # K1: the entry's own keys only (its product is named by the price's `product`).
    params["metadata"] = _price_metadata("pricebook_entry", entry_id, tiers, context)
    amount_mapped = False
    mapping = context.settings.mappings.price
    if mapping.defaults or mapping.custom:  # most configurations map nothing here
        sources = {"PricebookEntry": entry.raw, "Product2": product.raw}
        evaluated = apply_mapping(params, mapping, sources, label="price")
        params = evaluated.params
        amount_mapped = _convert_mapped_amount(params, evaluated.from_custom, currency)
    if tiers is None and not amount_mapped and "unit_amount_decimal" not in params:
        amount = entry.unit_price
        if amount is None:
            raise DataError(
                "M2", "The following required fields are missing: PricebookEntry.UnitPrice"
            )
        if amount < 0:
            return None
        params["unit_amount_decimal"] = minor_units(amount, currency)
    return PriceDraft(params)


def _price_metadata(
    object_key: str, record_id: str, tiers: Tiers | None, context: PlanningContext
) -> dict[str, Any]:
    """Rule K1: the price's record, and the consumption schedule its tiers came from."""
    metadata = record_metadata(object_key, record_id, context)
    if tiers is not None and tiers.schedule_id:
        metadata.update(record_metadata("consumption_schedule", tiers.schedule_id, context))
    return metadata


def is_line_price(price: Mapping[str, Any]) -> bool:
    """A price made for one order line (P6), as this or an earlier version marked it."""
    metadata = price.get("metadata")
    return isinstance(metadata, Mapping) and any(
        key.endswith((AUTO_ARCHIVE, LEGACY_LINE_PRICE)) for key in metadata
    )


def _convert_mapped_amount(
    params: dict[str, Any], from_custom: frozenset[str], currency: str
) -> bool:
    """A custom mapping gives a Salesforce currency amount (major units): convert it."""
    if "unit_amount_decimal" not in from_custom:
        return False
    params["unit_amount_decimal"] = minor_units(to_decimal(params["unit_amount_decimal"]), currency)
    return True


def known_price(record: RecordView, checked: Mapping[str, KnownPrice]) -> KnownPrice | None:
    """The price a record already has: a checked entry, else a price id in Stripe_ID__c."""
    known = checked.get(record.id)
    if known is not None:
        return known
    value = stripe_id_of(record.stripe_id, "price")
    return KnownPrice(value) if value is not None else None


def is_current(known: KnownPrice, draft: Mapping[str, Any]) -> bool:
    """Whether a known price still stands for ``draft``: same signature, not archived.

    Without the known price's parameters the id is trusted: the caller fetches them whenever
    it can, and that is what lets a changed entry be noticed (P7). An archived one can only
    be an adopted price (K2: lookup keys name active prices only), which a schedule cannot use.
    """
    if known.price is None:
        return True
    return known.price.get("active", True) is not False and signatures_match(known.price, draft)


def plan_pricebook_price(
    builder: PlanBuilder,
    entry: EntryView,
    product: ProductView,
    draft: PriceDraft,
    context: PlanningContext,
) -> PriceRef:
    """Use the entry's Stripe price if current, else create it (P7: replacing a stale one)."""
    entry_id = entry.id
    context.known.check_not_missing("PricebookEntry", entry_id, "price")
    known = known_price(entry, context.known.prices)
    if known is not None and is_current(known, draft.params):
        return known.id
    record = SourceRecord("PricebookEntry", entry_id)
    params = dict(draft.params)
    _attach_meter(builder, params, product, context)
    operation_id = f"price:pbe:{entry_id}"
    key_params = None
    if known is not None:
        params["transfer_lookup_key"] = True
        # The idempotency key names the price this one replaces, so it is its own: an entry
        # going A -> B -> A -> B within Stripe's 24 h would otherwise send the first B
        # replacement's key again, get that long-archived price back, and then archive the
        # current one, leaving no active price under the lookup key. (Only the key: the
        # price's metadata holds the reference's keys and nothing of ours, K1.)
        key_params = {**params, "replaces": known.id}
    builder.add(
        operation_id,
        "price.create",
        params,
        record,
        writeback=(WriteBack(record, "Stripe_ID__c"),),
        key_params=key_params,
    )
    if known is not None and (known.price is None or known.price.get("active", True)):
        builder.add(
            f"price_archive:pbe:{entry_id}",
            "price.update",
            {"active": False},
            record,
            target=known.id,
        )
    return ref(operation_id)


# --- order line prices ------------------------------------------------------------------------


class LineTerms(NamedTuple):
    """How an order line bills, from the line itself (P2-P4). A NamedTuple, built per line."""

    recurring: bool
    interval_count: int
    usage_type: str
    schedules: tuple[ScheduleView, ...]  # the line's own consumption schedules (P8)

    @property
    def tiered(self) -> bool:
        return bool(self.schedules)


def line_terms(item: OrderItemView) -> LineTerms:
    recurring = item.recurring
    return LineTerms(
        recurring=recurring,
        interval_count=interval_count(item.billing_frequency) if recurring else 0,
        usage_type=usage_type(item.billing_type) if recurring else "licensed",
        schedules=item.schedules,
    )


def line_price_params(
    item: OrderItemView,
    terms: LineTerms,
    sources: MappingSources,
    context: PlanningContext,
    *,
    currency: str,
    product_id: str,
    term_months: int | None,
    unit_price: Decimal | None = None,
) -> PriceDraft:
    """The price an order line needs: per billing period for recurring lines (P5).

    ``unit_price`` is the line's UnitPrice when the caller has parsed it already.
    """
    item_id = item.id
    params: dict[str, Any] = {"currency": currency, "product": product_id}
    if terms.recurring:
        params["recurring"] = {
            "interval": "month",
            "interval_count": terms.interval_count,
            "usage_type": terms.usage_type,
        }
    schedules = terms.schedules
    tiers = tiers_from(schedules, currency, where=f"OrderItem {item_id}") if schedules else None
    if tiers is not None:
        params.update(billing_scheme="tiered", tiers_mode=tiers.mode, tiers=tiers.tiers)
    metadata = _price_metadata("order_item", item_id, tiers, context)
    metadata[metadata_key(AUTO_ARCHIVE, sandbox=context.sandbox)] = "true"
    params["metadata"] = metadata
    amount_mapped = False
    mapping = context.settings.mappings.price_order_item
    if mapping.defaults or mapping.custom:  # most configurations map nothing here
        evaluated = apply_mapping(params, mapping, sources, label="price")
        params = evaluated.params
        amount_mapped = _convert_mapped_amount(params, evaluated.from_custom, currency)
    if tiers is None and not amount_mapped and "unit_amount_decimal" not in params:
        # A missing UnitPrice got here only past M2 (an amount mapping that gave nothing):
        # it fails as the value it is, not a number (an M2 Data Error).
        amount = unit_price if unit_price is not None else to_decimal(item.field("UnitPrice"))
        evergreen = (item.subscription_type or "").lower() == "evergreen"
        if terms.recurring and not evergreen and term_months:
            # P5: the line's UnitPrice covers the whole term; Stripe bills once per period.
            periods_numerator = amount * terms.interval_count
            params["unit_amount_decimal"] = minor_units(
                periods_numerator, currency, divide_by=term_months
            )
        else:
            params["unit_amount_decimal"] = minor_units(amount, currency)
    return PriceDraft(params)


def line_price_operation_id(item_id: str) -> str:
    return f"price:line:{item_id}"


def line_archive_operation_id(item_id: str) -> str:
    return f"price_archive:line:{item_id}"


def plan_line_price(
    builder: PlanBuilder,
    item: OrderItemView,
    product: ProductView,
    draft: PriceDraft,
    context: PlanningContext,
) -> tuple[PriceRef, bool]:
    """The line's own price; the flag says it is new and must be archived after use (P6)."""
    known = known_price(item, context.known.line_prices)
    if known is not None and (known.price is None or signatures_match(known.price, draft.params)):
        return known.id, False
    item_id = item.id
    record = SourceRecord("OrderItem", item_id)
    params = dict(draft.params)
    _attach_meter(builder, params, product, context)
    operation_id = line_price_operation_id(item_id)
    builder.add(
        operation_id,
        "price.create",
        params,
        record,
        writeback=(WriteBack(record, "Stripe_ID__c"),),
    )
    return ref(operation_id), True
