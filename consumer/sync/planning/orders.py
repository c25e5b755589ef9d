"""Activated CPQ orders to a Subscription Schedule, or to a finalized Invoice (rules O1-O7, M2).

One order becomes one schedule with one phase: it starts at the quote's start date (midnight
UTC), ends after the quote's term in months, and cancels at its end; recurring lines are the
phase's items and one-time lines its `add_invoice_items` (O2). An order of one-time lines only
becomes invoice items on a finalized invoice (O3), its coupons the invoice's and items' discounts
(A5).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from consumer.sync.mapping.data_error import DataError
from consumer.sync.mapping.evaluate import Evaluated, apply_mapping
from consumer.sync.planning.billing_terms import days_until_due
from consumer.sync.planning.builder import PlanBuilder
from consumer.sync.planning.context import PlanningContext
from consumer.sync.planning.coupons import (
    InvoiceDiscounts,
    discounts_key,
    discounts_param,
    has_coupons,
    invoice_discounts,
    plan_discounts,
)
from consumer.sync.planning.customers import plan_customer
from consumer.sync.planning.evergreen import LET_GO, is_evergreen, make_evergreen, order_writeback
from consumer.sync.planning.identity import metadata_key, record_metadata, stripe_id_of
from consumer.sync.planning.inline_prices import (
    InlinePrice,
    inline_price_data,
    line_price_path,
    phase_entry,
)
from consumer.sync.planning.plan import Issue, SourceRecord, WriteBack, ref
from consumer.sync.planning.preferences import check_start_date, currency_of
from consumer.sync.planning.prices import (
    PriceDraft,
    PriceRef,
    drafts_match,
    is_current,
    is_line_price,
    known_price,
    line_archive_operation_id,
    line_price_params,
    line_terms,
    plan_line_price,
    plan_pricebook_price,
    pricebook_price_params,
    signatures_match,
)
from consumer.sync.planning.problems import StripeStateError
from consumer.sync.planning.products import plan_product_sync
from consumer.sync.planning.schedule_dates import add_months
from consumer.sync.planning.segments import Segment, segment_phases, segments_of
from consumer.sync.planning.uneven_terms import remainder_months, split_phases
from consumer.sync.planning.views import (
    EntryView,
    MappingSources,
    OrderItemView,
    OrderView,
    ProductView,
)
from cpqsync.mapping.coercion import CoercionError
from cpqsync.mapping.stripe_schema import ENDPOINT_PARAMS, fields_of

MAX_RECURRING_LINES = 100
SCHEDULE_OPERATION = "subscription_schedule"
INVOICE_OPERATION = "invoice"
FINALIZE_OPERATION = "invoice_finalize"


@dataclass
class PhaseDraft:
    """The phase being assembled (an order's, or one of a contract's: see contracts.py)."""

    params: dict[str, Any]
    term_months: int | None
    items: list[dict[str, Any]] = field(default_factory=list)
    invoice_items: list[dict[str, Any]] = field(default_factory=list)
    intervals: dict[tuple[str, int], list[str]] = field(default_factory=dict)
    archives: list[tuple[str, PriceRef]] = field(default_factory=list)  # (op id, target)
    # Order item id -> what its one-time line costs, as an invoice item's idempotency key
    # spells its price (see ``_plan_invoice``).
    invoice_item_prices: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Order item id -> the parameters of the price the line needs (its per-period amount, P5).
    line_drafts: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Setting sync.inline_line_prices, for an order's own schedule (a contract's phases keep
    # P6): which lines may send their own price as price_data (see inline_prices.py).
    inline_recurring: bool = False
    inline_one_time: bool = False
    # Order item id -> where the schedule's answer names its inline price (its Stripe_ID__c).
    inline_lines: dict[str, str] = field(default_factory=dict)
    # O7: whether a term that is not a whole number of billing periods may be billed with a
    # prorated final phase (an order's own schedule) or is an error (an amended contract).
    final_period_prorated: bool = False

    def absorb(self, other: PhaseDraft) -> None:
        """Take over ``other``'s prices, one-time lines and intervals (an MDQ segment's, A6)."""
        self.invoice_items.extend(other.invoice_items)
        self.archives.extend(other.archives)
        self.invoice_item_prices.update(other.invoice_item_prices)
        self.line_drafts.update(other.line_drafts)
        for interval, ids in other.intervals.items():
            self.intervals.setdefault(interval, []).extend(ids)


def plan_order_operations(builder: PlanBuilder, order: OrderView, context: PlanningContext) -> None:
    order_id = order.id
    check_start_date(order, context)  # S2
    quote = order.quote
    if not order.quote_id and not order.nested_quote:
        raise DataError("O1", "There's no CPQ quote associated with this order")
    account = order.account
    if account is None or not account.has_id:
        raise DataError("M2", "The following required fields are missing: Order.Account")
    currency = currency_of(order, context)
    lines = active_lines(builder, order)
    order_sources = {"Order": order.raw, "Account": account.raw, "SBQQ__Quote__c": quote.raw}

    schedule = schedule_params(order, order_sources, context)
    phase = first_phase(schedule.params, order, order_sources, context)
    phase.final_period_prorated = True  # O7: see uneven_terms.py
    evergreen = is_evergreen(lines)
    if evergreen:  # A4: no end date; the term (1 month) is no billing term
        make_evergreen(schedule.params, quote, lines)
        phase.term_months = None
    with builder.blame(builder.root, contain=True):  # the lines are still checked (R4)
        require_order_fields(schedule.params, phase)

    invoice_id = order.stripe_id
    if invoice_id is not None and invoice_id.startswith("in_"):
        builder.skip(
            Issue(
                "O3",
                f"Skipped: this order was already invoiced in Stripe ({invoice_id})",
                builder.root,
                reported=False,
            )
        )
        plan_left_archives(builder, lines, context)
        return

    segments = segments_of(  # A6: MDQ segment lines are priced over their segment's months
        lines, start=schedule.params.get("start_date"), end=phase.params.get("end_date")
    )
    drafts = {index: PhaseDraft({}, segment.months) for index, segment in segments.items()}
    owner = {line_id: drafts[i] for i, s in segments.items() for line_id in s.line_ids}
    customer = plan_customer(builder, account, context, currency=currency)
    if context.settings.sync.inline_line_prices:
        phase.inline_recurring = True
        # One-time lines go inline only into a schedule: an order of one-time lines only is an
        # invoice (O3), whose items keep P6.
        phase.inline_one_time = any(_schedules_line(item) for item in lines)
    for item in lines:
        target = owner.get(item.id, phase)  # A6: a segment line prices over its segment
        plan_line(builder, order, item, target, context, currency=currency)
    if builder.failed:
        return
    segment_items = [item for draft in drafts.values() for item in draft.items]
    for draft in drafts.values():
        phase.absorb(draft)
    check_lines(phase)
    schedules = bool(phase.items or segment_items)
    if schedules and has_coupons(order):  # A5
        all_items = [*phase.items, *segment_items]
        plan_discounts(builder, order, phase.params, all_items, lines, context, currency=currency)
        if builder.failed:
            return
    if schedules:
        segmented = [(segments[i], drafts[i].items) for i in segments]
        _plan_schedule(
            builder, order, customer, schedule.params, phase, context, segmented, evergreen
        )
    elif phase.invoice_items:
        discounts = invoice_discounts(  # A5 on an invoice (O3)
            builder, order, lines, phase.invoice_item_prices, context, currency=currency
        )
        if builder.failed:
            return
        _plan_invoice(
            builder,
            order,
            customer,
            order_sources,
            phase,
            context,
            currency=currency,
            period=_service_period(schedule.params, phase),
            discounts=discounts,
        )
    else:
        raise DataError("O2", f"Order {order_id} has no lines to sync")
    plan_archives(builder, phase)


def _schedules_line(item: OrderItemView) -> bool:
    """Whether the line becomes a phase item: recurring, and not dropped for a negative unit
    price (P9, the same test ``_plan_line`` makes)."""
    if not line_terms(item).recurring:
        return False
    try:
        amount = item.unit_price
    except CoercionError:
        return True  # the line fails on its own; the order fails with it
    return amount is None or amount >= 0


def plan_archives(builder: PlanBuilder, phase: PhaseDraft) -> None:
    """P6: a line's own price is archived once the schedule (or invoice) using it exists."""
    for operation_id, target in phase.archives:
        record = SourceRecord("OrderItem", operation_id.rsplit(":", 1)[-1])
        builder.add(operation_id, "price.update", {"active": False}, record, target=target)


def plan_left_archives(
    builder: PlanBuilder, lines: list[OrderItemView], context: PlanningContext
) -> None:
    """P6 on an invoiced order (O3): its invoice exists, so nothing else is planned, but an
    attempt interrupted between finalizing the invoice and archiving the line prices it used
    left them active; the lookups found them, and they are archived now."""
    for item in lines:
        kept = context.known.line_prices.get(item.id)
        if kept is None or kept.price is None:
            continue
        if kept.price.get("active") and is_line_price(kept.price):
            record = SourceRecord("OrderItem", item.id)
            operation_id = line_archive_operation_id(item.id)
            builder.add(operation_id, "price.update", {"active": False}, record, target=kept.id)


def active_lines(builder: PlanBuilder, order: OrderView) -> list[OrderItemView]:
    lines = []
    for item in order.lines:
        if item.skipped:  # O6: Skip_Line_Item__c is checked
            record = SourceRecord("OrderItem", item.id)
            builder.skip(
                Issue("O6", "Skipped: Skip_Line_Item__c is checked", record, reported=False)
            )
            continue
        lines.append(item)
    return lines


def schedule_params(
    order: OrderView, sources: MappingSources, context: PlanningContext
) -> Evaluated:
    """``sources``: the records field mappings read, by source name (M3)."""
    params: dict[str, Any] = {"end_behavior": "cancel"}
    start = order.quote.start
    if start is not None:
        params["start_date"] = start
    days = days_until_due(order.payment_term or order.quote.payment_term)  # O4
    if days is not None:
        params["default_settings"] = {
            "collection_method": "send_invoice",
            "invoice_settings": {"days_until_due": days},
        }
    params["metadata"] = record_metadata("order", order.id, context)  # K1
    return apply_mapping(
        params,
        context.settings.mappings.subscription_schedule,
        sources,
        label="subscription schedule",
    )


def first_phase(
    schedule: dict[str, Any],
    order: OrderView,
    sources: MappingSources,
    context: PlanningContext,
) -> PhaseDraft:
    term = order.quote.term_months
    shown = order.quote.field("SBQQ__SubscriptionTerm__c")
    if term is None and shown not in (None, ""):
        raise DataError("O2", f"Subscription term must be a whole number of months: {shown}")
    # K1: each phase names its order, as the reference's phases do.
    params: dict[str, Any] = {"metadata": record_metadata("order", order.id, context)}
    start = schedule.get("start_date")
    if isinstance(start, int) and start <= context.now_epoch:
        # O5: midnight UTC of today is already past, so a same-day start counts as backdated.
        skip_past = order.skip_past_initial_invoices
        params["proration_behavior"] = "none" if skip_past else "create_prorations"
    if term is not None:
        if isinstance(start, int):
            params["end_date"] = add_months(start, term)
        else:
            params["duration"] = {"interval": "month", "interval_count": term}
    evaluated = apply_mapping(
        params, context.settings.mappings.subscription_phase, sources, label="subscription phase"
    )
    params = evaluated.params
    if evaluated.mapped("duration.interval_count") or evaluated.mapped("duration.interval"):
        # M3: a mapped phase duration replaces the quote's term.
        params.pop("end_date", None)
        duration = params.setdefault("duration", {})
        duration.setdefault("interval", "month")
        count = duration.get("interval_count", 1)
        unit_months = {"month": 1, "year": 12}.get(str(duration["interval"]))
        term = count * unit_months if unit_months is not None else None
    return PhaseDraft(params, term)


def require_order_fields(schedule: dict[str, Any], phase: PhaseDraft) -> None:
    """Rule M2: the order's required values, all reported at once (lines check their own)."""
    missing: list[str] = []
    if "start_date" not in schedule:
        missing.append("SBQQ__Quote__r.SBQQ__StartDate__c")
    if "end_date" not in phase.params and "duration" not in phase.params:
        missing.append("SBQQ__Quote__r.SBQQ__SubscriptionTerm__c")
    if missing:
        raise DataError("M2", f"The following required fields are missing: {', '.join(missing)}")


def _require_line_fields(item: OrderItemView, context: PlanningContext) -> None:
    """Rule M2 for one order line."""
    missing: list[str] = []
    if item.field("Quantity") is None:
        missing.append(f"OrderItem[{item.id}].Quantity")
    amount_mapped = "unit_amount_decimal" in context.settings.mappings.price_order_item.custom
    if item.field("UnitPrice") is None and not amount_mapped:
        missing.append(f"OrderItem[{item.id}].UnitPrice")
    if missing:
        raise DataError("M2", f"The following required fields are missing: {', '.join(missing)}")


def whole_quantity(item: OrderItemView) -> int:
    quantity = item.whole_quantity
    if quantity is None:
        raise DataError(
            "O6",
            "Quantity specified as a decimal value. Only integers are supported "
            f"(OrderItem {item.id} has quantity {item.field('Quantity')})",
        )
    return quantity


def plan_line(
    builder: PlanBuilder,
    order: OrderView,
    item: OrderItemView,
    phase: PhaseDraft,
    context: PlanningContext,
    *,
    currency: str,
) -> None:
    """The line's price and its phase item or add_invoice_item, into ``phase``.

    R4: a problem of the line is recorded as that line's error (``builder.failed``), and the
    caller goes on with the other lines, so one attempt reports every line at fault.
    """
    with builder.blame(SourceRecord("OrderItem", item.id), contain=True):
        _plan_line(builder, order, item, phase, context, currency=currency)


def _plan_line(
    builder: PlanBuilder,
    order: OrderView,
    item: OrderItemView,
    phase: PhaseDraft,
    context: PlanningContext,
    *,
    currency: str,
) -> None:
    item_id = item.id
    _require_line_fields(item, context)
    amount = item.unit_price
    if amount is not None and amount < 0:
        builder.skip(  # P9
            Issue(
                "P9",
                f"Skipped: negative unit price {item.field('UnitPrice')} produces no Stripe price",
                SourceRecord("OrderItem", item_id),
                reported=False,
            )
        )
        return
    quantity = whole_quantity(item)
    terms = line_terms(item)
    product = item.product
    if product is None or not product.has_id:
        raise DataError(
            "M2", f"The following required fields are missing: OrderItem[{item_id}].Product2"
        )
    entry = item.entry
    if (
        terms.recurring
        and not terms.tiered
        and not phase.final_period_prorated
        and remainder_months(phase.term_months, terms.interval_count)
    ):
        raise DataError(
            "O7",
            f"Subscription term of {phase.term_months} months is not a whole number of "
            f"{terms.interval_count}-month billing periods on OrderItem {item_id} "
            "(a prorated final period is billed only at the end of an order's own term, "
            "not for an MDQ segment or an amended contract yet)",
        )
    with builder.blame(SourceRecord("Product2", product.id)):
        product_id = plan_product_sync(builder, product, context, update_existing=False)
    sources = {
        "OrderItem": item.raw,
        "Product2": product.raw,
        "PricebookEntry": entry.raw if entry is not None else {},
        "Order": order.raw,
    }
    line = line_price_params(
        item,
        terms,
        sources,
        context,
        currency=currency,
        product_id=product_id,
        term_months=phase.term_months,
        unit_price=amount,
    )
    phase.line_drafts[item_id] = line.params
    recurring = line.params.get("recurring")
    metered = isinstance(recurring, dict) and recurring.get("usage_type") == "metered"
    if metered and quantity > 1:
        raise DataError(
            "P4",
            "Order lines with a price configured for metered billing cannot have a quantity "
            f"greater than 1. OrderItem {item_id} bills in arrears (metered: Stripe bills its "
            f"reported usage) and has quantity {quantity}; set its quantity to 1.",
        )
    price = _line_price_ref(
        builder, item, product, product_id, entry, line, phase, context, currency
    )
    if isinstance(price, InlinePrice):
        kind = "items" if isinstance(recurring, dict) else "add_invoice_items"
        index = len(phase.items if kind == "items" else phase.invoice_items)
        phase.inline_lines[item_id] = line_price_path(kind, index)
    if isinstance(recurring, dict):
        key = (str(recurring.get("interval")), int(recurring.get("interval_count") or 1))
        phase.intervals.setdefault(key, []).append(item_id)
        entry_params: dict[str, Any] = phase_entry(price)
        if not metered:
            entry_params["quantity"] = quantity
        entry_params["metadata"] = record_metadata("order_item", item_id, context)
        mapping = context.settings.mappings.subscription_item
        if mapping.defaults or mapping.custom:  # most configurations map nothing here
            entry_params = apply_mapping(
                entry_params, mapping, sources, label="subscription item"
            ).params
        phase.items.append(entry_params)
    else:
        phase.invoice_items.append(
            {
                **phase_entry(price),
                "quantity": quantity,
                "metadata": record_metadata("order_item", item_id, context),
            }
        )
        phase.invoice_item_prices[item_id] = {
            **{k: v for k, v in line.params.items() if k != "product"},
            "product": {"Product2": product.id},
        }


def _line_price_ref(
    builder: PlanBuilder,
    item: OrderItemView,
    product: ProductView,
    product_id: str,
    entry: EntryView | None,
    line: PriceDraft,
    phase: PhaseDraft,
    context: PlanningContext,
    currency: str,
) -> PriceRef | InlinePrice:
    """P6: the pricebook entry's price when the line's price equals it, else the line's own
    (inline, as price_data, where the setting and the price allow: inline_prices.py).

    ``product_id`` is the Stripe id the line's product has or will have.
    """
    kept = known_price(item, context.known.line_prices)
    if kept is not None and kept.price is not None and signatures_match(kept.price, line.params):
        # A synced line keeps the price it has while that still matches, even when the entry's
        # price matches again: switching would rewrite the schedule for nothing (and a
        # price once archived is taken back only where the schedule already uses it).
        if kept.price.get("active") and is_line_price(kept.price):
            # An interrupted attempt created it but never archived it (P6).
            phase.archives.append((line_archive_operation_id(item.id), kept.id))
        return kept.id
    if (
        kept is not None
        and kept.price is not None
        and kept.price.get("active")
        and is_line_price(kept.price)
    ):
        # A line price an interrupted attempt left behind that this plan no longer uses (the
        # line or its entry changed since): archive it with the others (P6).
        phase.archives.append((f"{line_archive_operation_id(item.id)}_stale", kept.id))
    if entry is not None and entry.has_id:
        entry_view = entry
        if entry.product is None and context.settings.mappings.price.custom:
            # Price mappings may read PricebookEntry.Product2.*: nest the line's product.
            entry_view = entry.with_product(product)
        # R4: the entry's price or tiers failing is the entry's fault, not the line's.
        with builder.blame(SourceRecord("PricebookEntry", entry.id)):
            entry_draft = pricebook_price_params(
                entry_view, product, context, currency=currency, product_id=product_id
            )
        if entry_draft is not None and drafts_match(entry_draft.params, line.params):
            current = known_price(entry, context.known.prices)
            if current is None or is_current(current, entry_draft.params):
                with builder.blame(SourceRecord("PricebookEntry", entry.id)):
                    return plan_pricebook_price(builder, entry_view, product, entry_draft, context)
            # The entry's Stripe price is out of date: replacing it (P7) is the entry's own
            # sync's job, its one writer, which reads the entry afresh; the order's read of
            # the entry may be older than that price (docs/reliability.md, fix 12). So the
            # order waits for the entry's sync and is planned again after it; once it has
            # waited, the line takes a price of its own (P6).
            if context.may_wait_for(entry.id):
                builder.wait_for(SourceRecord("PricebookEntry", entry.id))
    inline = _inline_price(line, phase, kept is not None and kept.price is None)
    if inline is not None:
        return inline
    price, is_new = plan_line_price(builder, item, product, line, context)
    if is_new and isinstance(price, dict):
        phase.archives.append((line_archive_operation_id(item.id), price))
    return price


def _inline_price(line: PriceDraft, phase: PhaseDraft, unchecked: bool) -> InlinePrice | None:
    """The line's own price as price_data, when the setting allows it here and Stripe's
    price_data can say it. ``unchecked``: the line names a price its lookups could not
    retrieve, which is trusted as P6 trusts it (``plan_line_price``)."""
    recurring = isinstance(line.params.get("recurring"), dict)
    if unchecked or not (phase.inline_recurring if recurring else phase.inline_one_time):
        return None
    data = inline_price_data(line.params)
    return InlinePrice(data) if data is not None else None


def check_lines(phase: PhaseDraft) -> None:
    """Rule O6: at most 100 recurring lines, all on one billing interval."""
    if len(phase.items) > MAX_RECURRING_LINES:
        raise DataError(
            "O6",
            f"An order can have at most {MAX_RECURRING_LINES} recurring lines; "
            f"this one has {len(phase.items)}",
        )
    if len(phase.intervals) > 1:
        described = "; ".join(
            f"every {count} {interval}(s): {', '.join(ids)}"
            for (interval, count), ids in sorted(phase.intervals.items())
        )
        raise DataError(
            "O6",
            "All recurring lines of an order must share one billing frequency; found " + described,
        )


def existing_schedule(order: OrderView, context: PlanningContext) -> str | None:
    """The order's schedule: found in Stripe, else the one its Stripe_ID__c names (K2)."""
    order_id = order.id
    subscription = stripe_id_of(
        order.stripe_id, "subscription"
    )  # an evergreen order's, once started (A4)
    kind = "subscription" if subscription else "subscription schedule"
    context.known.check_not_missing("Order", order_id, kind)
    known = context.known.schedules.get(order_id)
    if known:
        return known
    if subscription is not None:
        # Creating a schedule would start a second subscription beside the one it names.
        raise StripeStateError(
            "A4",
            f"Order {order_id} names subscription {subscription} in Stripe_ID__c, but Stripe "
            "has no subscription schedule for the order (by the subscription, or by its "
            "salesforce_order_id metadata) to sync it with; clear Order.Stripe_ID__c to sync "
            "the order to a new subscription",
        )
    return stripe_id_of(order.stripe_id, "subscription_schedule")


def _plan_schedule(
    builder: PlanBuilder,
    order: OrderView,
    customer: PriceRef,
    schedule: dict[str, Any],
    phase: PhaseDraft,
    context: PlanningContext,
    segments: list[tuple[Segment, list[dict[str, Any]]]],
    evergreen: bool = False,
) -> None:
    record = SourceRecord("Order", order.id)
    # A4: an evergreen order's Stripe_ID__c names its subscription once the schedule starts it.
    named = order_writeback(record) if evergreen else WriteBack(record, "Stripe_ID__c")
    # An inline line's price exists once the schedule does: its Stripe_ID__c is in the answer.
    line_ids = tuple(
        WriteBack(SourceRecord("OrderItem", item_id), "Stripe_ID__c", path)
        for item_id, path in phase.inline_lines.items()
    )
    phase_params = dict(phase.params)
    phase_params["items"] = phase.items
    if phase.invoice_items:
        phase_params["add_invoice_items"] = phase.invoice_items
    if segments:
        phases = segment_phases(phase_params, segments)  # A6
    else:
        phases = split_phases(  # O7
            builder,
            phase_params,
            phase.line_drafts,
            start=schedule.get("start_date"),
            term_months=phase.term_months,
            context=context,
        )
    existing = existing_schedule(order, context)
    if existing is None:
        params = {"customer": customer, **schedule, "phases": phases}
        builder.add(
            SCHEDULE_OPERATION,
            "subscription_schedule.create",
            params,
            record,
            writeback=(named, *line_ids),
        )
        return
    held = context.known.contract_schedules.get(order.id)
    if evergreen and held is not None and held.status in LET_GO:
        return  # A4: the subscription runs on its own now; only a cancellation changes it
    # An update replaces the phase list; the phase keeps its start (Stripe needs it resent).
    allowed = fields_of(ENDPOINT_PARAMS["subscription_schedule.update"])
    update = {k: v for k, v in schedule.items() if k in allowed}
    # A re-sync corrects what the same order sold, it is no change sold mid-period: Stripe's
    # default (create_prorations) would bill or credit the rest of the period for a corrected
    # quantity or price of the running phase. Changes billed for part of a period are CPQ
    # amendments, which bill it themselves (A1, also saved with none; docs/sync.md).
    update["proration_behavior"] = "none"
    if "start_date" in schedule:
        phases[0] = {"start_date": schedule["start_date"], **phases[0]}
    update["phases"] = phases
    builder.add(
        SCHEDULE_OPERATION,
        "subscription_schedule.update",
        update,
        record,
        target=existing,
        writeback=(named, *line_ids) if evergreen else line_ids,
    )


def _service_period(schedule: Mapping[str, Any], phase: PhaseDraft) -> dict[str, int] | None:
    """Rule O3: what one-time lines pay for, the quote's start to start + term (not the sync's
    moment, which Stripe would use for an item without a period)."""
    start = schedule.get("start_date")
    if not isinstance(start, int):
        return None
    end = phase.params.get("end_date")
    if not isinstance(end, int) and phase.term_months:
        end = add_months(start, phase.term_months)
    return {"start": start, "end": end} if isinstance(end, int) and end > start else None


def _plan_invoice(
    builder: PlanBuilder,
    order: OrderView,
    customer: PriceRef,
    sources: MappingSources,
    phase: PhaseDraft,
    context: PlanningContext,
    *,
    currency: str,
    period: dict[str, int] | None,
    discounts: InvoiceDiscounts,
) -> None:
    """Rule O3: invoice items on a draft invoice made for them, then finalized; the order's
    coupons discount the invoice, a line's its invoice item (A5)."""
    order_id = order.id
    record = SourceRecord("Order", order_id)
    params: dict[str, Any] = {
        "customer": customer,
        "currency": currency,
        "auto_advance": False,
        # Only this order's items: other pending items of the customer stay where they are.
        "pending_invoice_items_behavior": "exclude",
    }
    days = days_until_due(order.payment_term or order.quote.payment_term)
    if days is not None:
        params["collection_method"] = "send_invoice"
        params["days_until_due"] = days
    params["metadata"] = record_metadata("order", order_id, context)
    params = apply_mapping(
        params, context.settings.mappings.invoice, sources, label="invoice"
    ).params
    # The customer is a placeholder when the plan also creates it, its id when it exists; a
    # retry after a crash sees the second where the first attempt planned the first. Keyed on
    # the account instead, the retry replays the first attempt's invoice rather than leaving it
    # behind as a draft beside a second one. Coupons alike: keyed by the ids they will have.
    key_params = {**params, "customer": {"account": order.account_id}}
    if discounts.invoice:
        params["discounts"] = discounts_param(discounts.invoice)
        key_params["discounts"] = discounts_key(discounts.invoice)
    builder.add(
        INVOICE_OPERATION,
        "invoice.create",
        params,
        record,
        writeback=(WriteBack(record, "Stripe_ID__c"),),
        key_params=key_params,
    )
    invoice = ref(INVOICE_OPERATION)
    for line in phase.invoice_items:
        item_id = str(
            line["metadata"][metadata_key("salesforce_order_item_id", sandbox=context.sandbox)]
        )
        item_params = {
            "customer": customer,
            "invoice": invoice,
            "pricing": {"price": line["price"]},
            "quantity": line["quantity"],
            "metadata": line["metadata"],
        }
        if period is not None:
            item_params["period"] = period
        # Keyed on what the line costs, not on how its price, customer and coupons are
        # spelled: a first attempt names them by placeholder, a retry after a crash by the ids
        # it found, and both must send one key, or the draft invoice gets the item twice
        # (fix 13).
        item_key = {
            **item_params,
            "customer": key_params["customer"],
            "pricing": {"price": phase.invoice_item_prices[item_id]},
        }
        coupons = discounts.lines.get(item_id)
        if coupons:
            item_params["discounts"] = discounts_param(coupons)
            item_key["discounts"] = discounts_key(coupons)
        builder.add(
            f"invoiceitem:{item_id}",
            "invoiceitem.create",
            item_params,
            SourceRecord("OrderItem", item_id),
            key_params=item_key,
        )
    builder.add(
        FINALIZE_OPERATION,
        "invoice.finalize",
        {},
        record,
        target=invoice,
        writeback=(WriteBack(record, "Stripe_Invoice_Payment_Link__c", "hosted_invoice_url"),),
    )
