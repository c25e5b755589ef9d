"""A contract's subscription schedule: its initial order plus every activated amendment (A1, A2).

A CPQ contract is one Stripe subscription schedule whose phases are rewritten as the contract
changes. The schedule is always derived whole, from every order of the contract, so syncing any
one of them (in any order, any number of times) plans the same schedule:

- The initial order's phase starts at its quote's start and runs to the contract's end (start +
  term months), exactly as an order on its own (rule O2, ``orders.py``).
- Amendments apply in start-date order (then activation time, then id). Each starts a new phase
  from its start date to the contract's end; the previous phase ends where it starts. An amendment
  line carries a quantity CHANGE: a positive change adds a lot to the line it revises
  (``SBQQ__RevisedOrderProduct__c``, the order product that first sold it) or, without one, sells
  a new product at its own price (P5/P6, with CPQ's prorated ``UnitPrice`` scaled back to the
  full term by ``SBQQ__ProrateMultiplier__c``); a negative change takes that product's most
  recently added lots first (last in, first out), and a line reaching zero leaves the phase.
- An amendment starting today or earlier starts ``now`` (Stripe cannot change the past): the
  plan says ``"now"`` where the previous phase ends, and once Stripe holds the phase its start
  comes from Stripe (``KnownSchedule``), so a replay plans the same phases. Phases that have
  ended are sent back exactly as Stripe holds them.
- Updates use ``proration_behavior = none``; a quantity increase starting inside a billing
  period is billed for the rest of that period by one add_invoice_item on the amendment's phase:
  an inline one-time price of (per-period amount x remaining days / days in the period), quantity
  = the increase, named by the amendment line. Decreases are not credited (credits are later).
- Cancellation (A2): when an amendment leaves no recurring line, the schedule ends at its start
  date (``end_behavior = cancel``); starting today or earlier, the schedule is cancelled at once.
- MDQ contracts (A6): the initial order's segment lines each hold one segment's quantity (a
  line of its own per segment). CPQ amends each segment still running on the amendment's start
  by a line of its own revising that segment's line, so the change accumulates per segment line
  like any other (LIFO within the segment). The phases are then cut at the segment boundaries:
  each bills the plain lines and the lines of the segment it falls in, as a new MDQ order does.
  A change to a later segment starts with that segment (a billing date: no proration item). A
  new MDQ product on an amendment (segment lines revising nothing, ``segments.added_segments``)
  joins the contract's lines with segments of its own, and the phases are cut at those too.
- Coupons (A5): the initial order's on every phase, an amendment order's from its phase on; a
  coupon on an amendment line discounts the item of the line it sells, or of the line whose
  quantity it changes, from the amendment's phase on.
- Uneven terms (O7): the phases are split at the end of the last whole billing period
  (``uneven_terms.split_contract_phases``); an increase inside the final, shorter period is
  prorated over that period at the remainder's price.

docs/sync.md ("How a contract's schedule is derived") walks through an example.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from consumer.sync.mapping.data_error import DataError
from consumer.sync.planning.amounts import minor_unit_exponent
from consumer.sync.planning.builder import PlanBuilder
from consumer.sync.planning.context import KnownPhase, KnownSchedule, PlanningContext
from consumer.sync.planning.coupons import (
    change_line_discounts,
    keeping_discounts,
    order_discounts,
    plan_discounts,
)
from consumer.sync.planning.customers import plan_customer
from consumer.sync.planning.evergreen import is_evergreen, make_evergreen
from consumer.sync.planning.evergreen_contracts import plan_evergreen_contract
from consumer.sync.planning.identity import metadata_key, record_metadata
from consumer.sync.planning.orders import (
    SCHEDULE_OPERATION,
    PhaseDraft,
    active_lines,
    check_lines,
    existing_schedule,
    first_phase,
    plan_archives,
    plan_line,
    require_order_fields,
    schedule_params,
    whole_quantity,
)
from consumer.sync.planning.plan import Issue, Plan, SourceRecord, WriteBack, ref
from consumer.sync.planning.preferences import (
    check_start_date,
    currency_of,
    filter_for,
    gate,
    passes_filter,
)
from consumer.sync.planning.schedule_dates import add_months
from consumer.sync.planning.segments import Segment, added_segments, is_segmented, segments_of
from consumer.sync.planning.uneven_terms import remainder_months, split_contract_phases
from consumer.sync.planning.views import OrderItemView, OrderView
from cpqsync.mapping.coercion import CoercionError, decimal_text, to_decimal
from cpqsync.mapping.stripe_schema import ENDPOINT_PARAMS, fields_of

NOW = "now"
CANCEL_OPERATION = "subscription_schedule_cancel"
AMEND_OPERATION = "subscription_schedule_amend"
_DAY = 86_400
_JUST = 5  # seconds: how recently a phase may have started and still be joined by a "now"
_QUANTUM = Decimal(1).scaleb(-12)
COTERMINATE = "Order amendments must coterminate with the initial order."
FILTERED_AMENDMENTS = (
    "Failed to sync amendment orders since not all amendment orders respect user's custom "
    "order filters."
)
FILTERED_INITIAL = "initial order was skipped because it didn't match custom sync filters"


class OrderFault(DataError):
    """A data error one order of the contract causes: that order is the record at fault (R4)."""

    def __init__(self, rule: str, detail: str, order_id: str) -> None:
        super().__init__(rule, detail)
        self.order_id = order_id


@dataclass(frozen=True)
class ContractOrders:
    """A contract's orders as hydration reads them: the initial order and every amendment order
    (any status), each shaped like ``plan_order``'s input (Account, SBQQ__Quote__r, OrderItems
    with Product2 and PricebookEntry)."""

    initial: OrderView
    amendments: tuple[OrderView, ...] = ()

    def activated(self) -> list[OrderView]:
        """The amendments CPQ has made part of the contract, in the order they apply."""
        return sorted(
            (a for a in self.amendments if a.status == "Activated"),
            key=lambda a: (
                # As the fields read (ISO dates and datetimes sort as text).
                str(a.quote.field("SBQQ__StartDate__c") or ""),
                str(a.field("ActivatedDate") or ""),
                a.id,
            ),
        )


@dataclass
class _Lot:
    """Quantity one order added to one line: what a later decrease takes back (LIFO)."""

    line_id: str
    product_id: str
    quantity: int
    segment: int | None  # A6: the MDQ segment index of the line (a decrease stays in it)


@dataclass
class _Segment:
    """A phase being derived: who starts it, when, and what it bills."""

    order_id: str
    start: int | str  # epoch seconds, or NOW
    quantities: dict[str, int]  # original line id -> live quantity, in the order first sold
    invoice_items: list[dict[str, Any]] = field(default_factory=list)
    # A5: the order-level coupons in force: the initial order's and every amendment's so far.
    discounts: list[dict[str, Any]] = field(default_factory=list)
    # A5: original line id -> coupons of amendment lines that changed it, in force from then on
    # (after the line's own coupons, which its item carries in every phase).
    item_discounts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def plan_contract(orders: ContractOrders, *, order_id: str, context: PlanningContext) -> Plan:
    """The plan for ``order_id``'s sync: the whole schedule of the contract it belongs to."""
    root = SourceRecord("Order", order_id)
    try:
        skip = _filter_skip(orders, root, context)
        if skip is not None:
            return Plan(root, skips=(skip,))
        builder = PlanBuilder(root)
        prices = _plan_contract(builder, orders, context)
        plan_archives(builder, prices)
        return builder.build()
    except OrderFault as exc:
        return Plan(
            root, errors=(Issue(exc.rule, exc.message, SourceRecord("Order", exc.order_id)),)
        )
    except DataError as exc:
        return Plan(root, errors=(Issue(exc.rule, exc.message, root),))
    except CoercionError as exc:
        return Plan(root, errors=(Issue("M2", f"Data Error: {exc}", root),))


def _filter_skip(
    orders: ContractOrders, root: SourceRecord, context: PlanningContext
) -> Issue | None:
    """S4 and the root's own S3 filter first; then (S3 + A1) every order of the contract must
    pass the Order filter, or none of them syncs. Those skips are reported: a contract billed
    without some of its amendments is something its owner must hear about."""
    root_order = next(
        (o for o in (orders.initial, *orders.amendments) if o.id == root.id),
        orders.initial,
    )
    skip = gate(root, root_order, context)
    text = filter_for("Order", context)
    if skip is not None or text is None or not orders.activated():
        return skip
    if not passes_filter("Order", text, orders.initial, context):
        return Issue(
            "S3",
            f"Skipped: {FILTERED_INITIAL} (initial order {orders.initial.id}; "
            f"Order sync filter: {text})",
            root,
        )
    excluded = [a.id for a in orders.activated() if not passes_filter("Order", text, a, context)]
    if excluded:
        return Issue(
            "S3",
            f"Skipped: {FILTERED_AMENDMENTS} Excluded by the Order sync filter ({text}): "
            + ", ".join(excluded),
            root,
        )
    return None


def _plan_contract(
    builder: PlanBuilder, orders: ContractOrders, context: PlanningContext
) -> PhaseDraft:
    """Add the contract's schedule operations; return the lines' prices (to archive, P6)."""
    initial = orders.initial
    initial_id = initial.id
    check_start_date(initial, context)  # S2
    quote = initial.quote
    if not initial.quote_id and not quote.raw:
        raise OrderFault("O1", "There's no CPQ quote associated with this order", initial_id)
    account = initial.account
    if account is None or not account.has_id:
        raise DataError("M2", "The following required fields are missing: Order.Account")
    currency = currency_of(initial, context)
    sources = {"Order": initial.raw, "Account": account.raw, "SBQQ__Quote__c": quote.raw}
    schedule = schedule_params(initial, sources, context).params
    opening = first_phase(schedule, initial, sources, context)
    lines = active_lines(builder, initial)
    require_order_fields(schedule, opening)
    start = int(schedule["start_date"])
    term = opening.term_months or 0
    end = int(opening.params.get("end_date") or add_months(start, term))
    amendments = orders.activated()
    if amendments and is_evergreen(lines):  # A4: only a cancellation amends it
        make_evergreen(schedule, quote, lines)
        customer = plan_customer(builder, account, context, currency=currency)
        known = _known_schedule(orders, context)
        return plan_evergreen_contract(
            builder, initial, amendments, schedule, opening, known, customer, context,
            currency=currency,
        )  # fmt: skip
    for amendment in amendments:
        _check_amendment(amendment, currency, start, end, context)

    known = _known_schedule(orders, context)
    customer = plan_customer(builder, account, context, currency=currency)
    timeline = _Timeline(builder, initial, term, currency, context)
    timeline.end = end
    timeline.mdq = segments_of(lines, start=start, end=end)  # A6: MDQ segments, if any
    segments = [timeline.open(initial, lines, start)]
    if builder.failed:
        return timeline.prices  # R4: the lines at fault are the errors, not what follows
    # A5: the initial order's coupons, on every phase and on its lines' items.
    plan_discounts(
        builder, initial, opening.params, list(timeline.entries.values()), lines, context,
        currency=currency,
    )  # fmt: skip
    in_force = list(opening.params.get("discounts") or [])
    segments[0].discounts = list(in_force)
    item_coupons: dict[str, list[dict[str, Any]]] = {}
    for amendment, begins in zip(
        amendments, _starts(amendments, known, start, context), strict=True
    ):
        known_lines = set(timeline.entries)
        segment = timeline.amend(amendment, begins, known)
        changed = _amendment_discounts(builder, amendment, timeline, known_lines, context, currency)
        for line_id, coupons in changed.items():
            item_coupons[line_id] = [*item_coupons.get(line_id, []), *coupons]
        in_force += order_discounts(builder, amendment, context, currency=currency)
        segment.discounts = list(in_force)
        segment.item_discounts = {k: list(v) for k, v in item_coupons.items()}
        if builder.failed:
            return timeline.prices
        if begins != NOW and int(begins) <= start:
            # An amendment from the contract's first day is part of its first phase.
            segments[0] = _Segment(
                initial_id,
                start,
                segment.quantities,
                segments[0].invoice_items + segment.invoice_items,
                segment.discounts,
                segment.item_discounts,
            )
            continue
        if segments[-1].start == begins:
            segment.invoice_items = segments[-1].invoice_items + segment.invoice_items
            segments[-1] = segment
            continue
        if not segments[-1].quantities:
            raise OrderFault(
                "A2",
                f"Order {amendment.id} amends contract of order {initial_id} after an "
                "amendment took every line to zero (the contract is cancelled)",
                amendment.id,
            )
        segments.append(segment)
    check_lines(timeline.prices)

    writebacks = tuple(
        WriteBack(SourceRecord("Order", o.id), "Stripe_ID__c") for o in (initial, *amendments)
    )
    record = SourceRecord("Order", initial_id)
    cancelled_now = not segments[-1].quantities and _started(segments[-1].start, context)
    if known is not None and known.status in ("released", "canceled", "completed"):
        if cancelled_now and known.status != "released":
            return timeline.prices  # A2 already done: the schedule ended as the contract did
        latest = amendments[-1].id if amendments else initial_id
        raise OrderFault(
            "A1",
            f"The contract's subscription schedule {known.id} was {known.status} in Stripe; "
            "amendments can no longer change it (sync the contract to a new schedule by "
            "clearing Stripe_ID__c on its orders)",
            latest,
        )
    if not segments[0].quantities and known is None:
        # Cancelled from its first day before it ever synced: nothing to bill (A2).
        builder.skip(
            Issue(
                "A2",
                "Skipped: the contract was cancelled from its first day; nothing to bill",
                builder.root,
            )
        )
        return timeline.prices
    schedule_id: str | dict[str, str]
    if known is not None:
        schedule_id = known.id
    else:
        # No schedule yet (the initial order never synced, or this is its first sync): create
        # it. A phase cannot end ``now`` in a create, so a contract with an amendment starting
        # now is created with its initial phase, then amended like an existing schedule.
        creates_all = not any(s.start == NOW for s in segments) and not cancelled_now
        phases = _phases(
            segments if creates_all else segments[:1], opening, timeline, end, None, context
        )
        params = {"customer": customer, **schedule, "phases": phases}
        builder.add(
            SCHEDULE_OPERATION, "subscription_schedule.create", params, record, writeback=writebacks
        )
        if creates_all:
            return timeline.prices
        schedule_id = ref(SCHEDULE_OPERATION)
    if (cancelled_now and len(segments) > 1) or not segments[0].quantities:
        # A2: a cancellation starting today or in the past ends the schedule at once.
        builder.add(
            CANCEL_OPERATION,
            "subscription_schedule.cancel",
            {"invoice_now": True, "prorate": False},
            record,
            target=schedule_id,
            writeback=writebacks if known is not None else (),
        )
        return timeline.prices
    phases = _phases(segments, opening, timeline, end, known, context)
    allowed = fields_of(ENDPOINT_PARAMS["subscription_schedule.update"])
    update = {k: v for k, v in schedule.items() if k in allowed}
    update["proration_behavior"] = "none"
    first_start = known.phases[0].start_date if known is not None and known.phases else start
    phases[0] = {"start_date": first_start, **phases[0]}
    update["phases"] = phases
    builder.add(
        SCHEDULE_OPERATION if known is not None else AMEND_OPERATION,
        "subscription_schedule.update",
        update,
        record,
        target=schedule_id,
        writeback=writebacks if known is not None else (),
        key_params=_keyed_by_minute(update, context),
    )
    return timeline.prices


def _amendment_discounts(
    builder: PlanBuilder,
    amendment: OrderView,
    timeline: _Timeline,
    known_lines: set[str],
    context: PlanningContext,
    currency: str,
) -> dict[str, list[dict[str, Any]]]:
    """A5: coupons on an amendment's lines. A line selling a new product carries its coupons
    on its item in every phase from then on; those of a line changing a sold line's quantity
    discount that line's item from the amendment's phase on (returned by the original line's
    id: Stripe discounts an item whole, so they discount all of its quantity)."""
    lines = [line for line in amendment.lines if not line.skipped]
    changed: dict[str, list[dict[str, Any]]] = {}
    by_revised = change_line_discounts(
        builder, amendment, lines, context, currency=currency,
        has_item=lambda revised: timeline.origin.get(revised) in timeline.entries,
    )  # fmt: skip
    for revised, coupons in by_revised.items():
        changed.setdefault(timeline.origin[revised], []).extend(coupons)
    new_lines = [line for line in lines if line.coupons and not line.revises]
    if new_lines:
        items = [entry for line_id, entry in timeline.entries.items() if line_id not in known_lines]
        plan_discounts(builder, amendment.without_coupons(), {}, items, new_lines, context,
                       currency=currency)  # fmt: skip
    return changed


def _keyed_by_minute(update: dict[str, Any], context: PlanningContext) -> dict[str, Any] | None:
    """An update ending a phase ``now`` means another instant each time it is sent: keyed by
    the minute it was planned, so Stripe's stored answer (a refusal that depended on the moment
    included) is not replayed to it forever, while retries within the minute still share it."""
    if not any(phase.get("end_date") == NOW for phase in update["phases"]):
        return None
    return {**update, "planned_minute": context.now_epoch // 60}


def _check_amendment(
    amendment: OrderView, currency: str, start: int, end: int, context: PlanningContext
) -> None:
    """A1: an amendment keeps its contract's currency and ends when the contract ends."""
    order_id = amendment.id
    own = currency_of(amendment, context)
    if own != currency:
        raise OrderFault(
            "A1",
            f"Amendment order {order_id} is in {own.upper()} but its contract bills in "
            f"{currency.upper()}; an amendment must keep its contract's currency",
            order_id,
        )
    begins = amendment.quote.start
    last_day = amendment.last_day
    missing = [
        f"SBQQ__Quote__r.{name}"
        for name, value in (("SBQQ__StartDate__c", begins), ("SBQQ__EndDate__c", last_day))
        if value is None
    ]
    if missing:
        raise OrderFault(
            "M2", f"The following required fields are missing: {', '.join(missing)}", order_id
        )
    assert begins is not None and last_day is not None
    if last_day + _DAY != end or begins >= end:
        raise OrderFault(
            "A1",
            f"{COTERMINATE} Amendment order {order_id} runs {_day(begins)} to {_day(last_day)}; "
            f"the contract ends {_day(end - _DAY)}",
            order_id,
        )


def _day(epoch: int) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).date().isoformat()


def _known_schedule(orders: ContractOrders, context: PlanningContext) -> KnownSchedule | None:
    known = context.known.contract_schedules.get(orders.initial.id)
    if known is not None:
        return known
    for order in (orders.initial, *orders.activated()):
        found = existing_schedule(order, context)
        if found is not None:
            return KnownSchedule(found, "active")
    return None


def _started(begins: int | str, context: PlanningContext) -> bool:
    return begins == NOW or int(begins) <= context.now_epoch


def _starts(
    amendments: Sequence[OrderView],
    known: KnownSchedule | None,
    start: int,
    context: PlanningContext,
) -> list[int | str]:
    """When each amendment's phase starts (A1).

    A phase Stripe already holds keeps its start. Otherwise a future start date is used as is,
    and a start date today or earlier becomes ``now`` — unless a later amendment's phase has
    already begun in Stripe, in which case this one joins it (both were applied at once).
    """
    held: dict[str, int] = {}
    for phase in known.phases[1:] if known is not None else ():
        if phase.order_id:
            # The first phase an order started: an uneven term's final phase (O7) carries the
            # name of the phase it was split from.
            held.setdefault(phase.order_id, phase.start_date)
    # A phase Stripe started in the last seconds cannot end "now" (a phase must end after it
    # starts, in whole seconds): an amendment starting now joins it instead.
    just_started = next(
        (
            phase.start_date
            for phase in (known.phases if known is not None else ())
            if context.now_epoch - _JUST <= phase.start_date <= context.now_epoch < phase.end_date
        ),
        None,
    )
    out: list[int | str] = []
    for index, amendment in enumerate(amendments):
        order_id = amendment.id
        if order_id in held:
            out.append(held[order_id])
            continue
        begins = amendment.quote.start
        assert begins is not None  # checked by _check_amendment
        if begins > context.now_epoch or begins <= start:
            out.append(begins)
            continue
        joined = [
            held[later.id]
            for later in amendments[index + 1 :]
            if held.get(later.id, context.now_epoch + 1) <= context.now_epoch
        ]
        if not joined and just_started is not None:
            joined = [just_started]
        out.append(min(joined) if joined else NOW)
    return out


class _Timeline:
    """Quantities per original line as the contract's orders apply, and the prices they use."""

    def __init__(
        self,
        builder: PlanBuilder,
        initial: OrderView,
        term: int,
        currency: str,
        context: PlanningContext,
    ) -> None:
        self.builder = builder
        self.initial = initial
        self.term = term
        self.currency = currency
        self.context = context
        self.prices = PhaseDraft({}, term)  # every line's price, recurring and one-time
        self.prices.final_period_prorated = True  # O7: split_contract_phases
        self.entries: dict[str, dict[str, Any]] = {}  # original line id -> phase item
        self.origin: dict[str, str] = {}  # any line id -> the line that first sold it
        self.product: dict[str, str] = {}  # original line id -> Product2 id
        self.lots: list[_Lot] = []
        self.start = 0
        self.end = 0
        self.mdq: dict[int, Segment] = {}  # A6: the initial order's MDQ segments by index
        # Original segmented line id -> its segment: the initial order's, and those of MDQ
        # products amendments add (A6).
        self.segment_of: dict[str, Segment] = {}

    def open(self, order: OrderView, lines: list[OrderItemView], start: int) -> _Segment:
        self.start = start
        invoice_items: list[dict[str, Any]] = []
        for line in lines:
            entry, one_time = self._price(order, line)
            if one_time is not None:
                invoice_items.append(one_time)
            if entry is not None:
                self._add(line.id, whole_quantity(line))
        return _Segment(order.id, start, self._quantities(start), invoice_items)

    def amend(
        self, amendment: OrderView, begins: int | str, known: KnownSchedule | None
    ) -> _Segment:
        order_id = amendment.id
        held = _held_phase(known, order_id)
        invoice_items: list[dict[str, Any]] = []
        lines = active_lines(self.builder, amendment)
        added = self._added_segments(amendment, lines)
        for line in lines:
            line_id = line.id
            change = whole_quantity(line)
            revised = line.revises
            if revised:
                original = self.origin.get(revised)
                if original is None:
                    raise OrderFault(
                        "A1",
                        f"OrderItem {line_id} revises order product {revised}, which is not "
                        "part of this contract",
                        order_id,
                    )
                self._check_segment_change(line, original, amendment)
            elif change > 0:
                entry, one_time = self._price(
                    amendment, _full_term(line, amendment, self), added.get(line_id)
                )
                if one_time is not None:
                    invoice_items.append(one_time)
                if entry is None:
                    continue
                original = line_id
            else:
                continue  # nothing to take back from a line the contract never sold
            if original not in self.entries:
                continue  # a one-time or dropped (P9) line: nothing recurring to change
            if change > 0:
                self._add(original, change)
                proration = self._proration(line_id, original, change, begins, held)
                if proration is not None:
                    invoice_items.append(proration)
            elif change < 0:
                self._take(line_id, original, -change, order_id)
        return _Segment(order_id, begins, self._quantities(self.instant(begins)), invoice_items)

    def _added_segments(
        self, amendment: OrderView, lines: list[OrderItemView]
    ) -> dict[str, Segment]:
        """A6: the segments of the MDQ products the amendment adds (segmented lines revising
        nothing), each line priced for its segment like a new MDQ order's."""
        new = [line for line in lines if is_segmented(line) and not line.revises]
        if not new:
            return {}
        begins = amendment.quote.start
        assert begins is not None  # checked by _check_amendment
        try:
            return added_segments(new, contract_start=self.start, end=self.end, begins=begins)
        except DataError as exc:
            raise OrderFault(exc.rule, exc.detail, amendment.id) from None

    def instant(self, begins: int | str) -> int:
        return self.context.now_epoch if begins == NOW else int(begins)

    def _check_segment_change(
        self, line: OrderItemView, original: str, amendment: OrderView
    ) -> None:
        """A6: a change to an MDQ line names that line's segment, one still running on the
        amendment's start date (CPQ amends each such segment by a line of its own). A segment
        that has ended since (a backdated amendment applied later) keeps what Stripe billed."""
        segment = self.segment_of.get(original)
        order_id = amendment.id
        line_id = line.id
        if segment is None:
            if is_segmented(line):
                raise OrderFault(
                    "A6",
                    f"OrderItem {line_id} is segmented (MDQ) but revises order product "
                    f"{original}, which is not",
                    order_id,
                )
            return
        index = line.field("SBQQ__SegmentIndex__c")
        if index not in (None, "") and to_decimal(index) != segment.index:
            raise OrderFault(
                "A6",
                f"OrderItem {line_id} is segment {index} but revises order product {original} "
                f"of segment {segment.index}",
                order_id,
            )
        begins = amendment.quote.start
        if begins is not None and segment.end <= begins:
            raise OrderFault(
                "A6",
                f"OrderItem {line_id} changes segment {segment.index} (order product "
                f"{original}), which ended on {_day(segment.end - _DAY)} before the amendment "
                "starts; an ended segment cannot be amended",
                order_id,
            )

    def _price(
        self,
        order: OrderView,
        line: OrderItemView,
        segment: Segment | None = None,
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """Plan the line's price (P2-P9); its phase item or add_invoice_item (None if dropped).
        ``segment``: the MDQ segment of a line an amendment adds (A6); the initial order's
        segment lines are found in ``mdq``."""
        recurring, one_time = len(self.prices.items), len(self.prices.invoice_items)
        line_id = line.id
        self.origin[line_id] = line_id
        self.product[line_id] = line.product_id
        if segment is None:
            segment = next((s for s in self.mdq.values() if line_id in s.line_ids), None)
        if segment is not None:
            # A6: a segment line's price covers its segment, so P5 divides it by its months.
            draft = PhaseDraft({}, segment.months)
            plan_line(self.builder, order, line, draft, self.context, currency=self.currency)
            self.prices.absorb(draft)
            self.segment_of[line_id] = segment
            items = draft.items
        else:
            plan_line(self.builder, order, line, self.prices, self.context, currency=self.currency)
            items = self.prices.items[recurring:]
        if items:
            self.entries[line_id] = items[-1]
            return items[-1], None
        if len(self.prices.invoice_items) > one_time:
            return None, self.prices.invoice_items[-1]
        return None, None

    def _add(self, original: str, quantity: int) -> None:
        segment = self.segment_of.get(original)
        index = segment.index if segment is not None else None
        self.lots.append(_Lot(original, self.product[original], quantity, index))

    def _take(self, line_id: str, original: str, quantity: int, order_id: str) -> None:
        """Take ``quantity`` of the line's product back, most recently added lots first."""
        product = self.product[original]
        segment = self.segment_of.get(original)
        index = segment.index if segment is not None else None
        remaining = quantity
        for lot in reversed(self.lots):
            if remaining == 0:
                break
            if lot.product_id == product and lot.segment == index and lot.quantity > 0:
                taken = min(lot.quantity, remaining)
                lot.quantity -= taken
                remaining -= taken
        if remaining:
            raise OrderFault(
                "A1",
                f"OrderItem {line_id} reduces product {product} by {quantity}, more than the "
                f"contract holds ({quantity - remaining})",
                order_id,
            )

    def _quantities(self, at: int) -> dict[str, int]:
        """Live quantity per original line from ``at``: an MDQ segment ended by then is gone."""
        totals: dict[str, int] = {}
        for lot in self.lots:
            segment = self.segment_of.get(lot.line_id)
            if segment is not None and segment.end <= at:
                continue
            totals[lot.line_id] = totals.get(lot.line_id, 0) + lot.quantity
        return {line_id: total for line_id, total in totals.items() if total > 0}

    def _proration(
        self,
        line_id: str,
        original: str,
        quantity: int,
        begins: int | str,
        held: KnownPhase | None,
    ) -> dict[str, Any] | None:
        """A1: the rest of the billing period an increase starts in, as an add_invoice_item."""
        draft = self.prices.line_drafts.get(original, {})
        recurring = draft.get("recurring")
        per_period = draft.get("unit_amount_decimal")
        if not isinstance(recurring, dict) or recurring.get("usage_type") == "metered":
            return None
        if per_period is None:
            return None  # tiered: no single per-period amount to prorate
        day = _midnight(self.context.now_epoch if begins == NOW else int(begins))
        segment = self.segment_of.get(original)
        if segment is not None and not segment.start < day < segment.end:
            # A6: a change to a later segment starts with it, on a billing date; one to a
            # segment ended by now (a backdated amendment) bills nothing more.
            return None
        months = int(recurring.get("interval_count") or 1)
        period_start, period_end = _billing_period(self.start, months, day)
        if day == period_start:
            return None
        if period_end > self.end:
            # O7: the term's final, shorter period, billed at the remainder's price (the
            # per-period amount x remainder / interval, as uneven_terms.py prices it).
            remainder = Decimal(remainder_months(self.term, months)) / Decimal(months)
            per_period = decimal_text(
                (to_decimal(per_period) * remainder).quantize(_QUANTUM, ROUND_HALF_UP)
            )
            period_end = self.end
        if held is not None and held.start_date <= self.context.now_epoch:
            # The phase has started: Stripe billed its add_invoice_items then. They are neither
            # needed again nor sendable (an inline price is inactive once made).
            return None
        metadata = record_metadata("order_item", line_id, self.context)
        share = Decimal(period_end - day) / Decimal(period_end - period_start)
        amount = (to_decimal(per_period) * share).quantize(_QUANTUM, ROUND_HALF_UP)
        return {
            "price_data": {
                "currency": self.currency,
                "product": draft["product"],
                "unit_amount_decimal": decimal_text(amount),
            },
            "quantity": quantity,
            "metadata": metadata,
        }


def _full_term(line: OrderItemView, amendment: OrderView, timeline: _Timeline) -> OrderItemView:
    """An amendment line priced for the whole term: CPQ prorated its UnitPrice to the rest of
    the contract (``SBQQ__ProrateMultiplier__c``); P5 divides a whole term's price."""
    if line.field("UnitPrice") is None:
        return line
    multiplier = line.field("SBQQ__ProrateMultiplier__c")
    if multiplier in (None, "", 0):
        raise OrderFault(
            "M2",
            "The following required fields are missing: "
            f"OrderItem[{line.id}].SBQQ__ProrateMultiplier__c",
            amendment.id,
        )
    # CPQ rounded the prorated price to the currency's minor unit, so dividing back gives the
    # term price only to about that unit (425.00 / 0.708333 = 600.0003): round it there.
    unit = Decimal(1).scaleb(-minor_unit_exponent(timeline.currency))
    unit_price = line.unit_price
    assert unit_price is not None  # the field is set (above)
    full = (unit_price / to_decimal(multiplier)).quantize(unit, ROUND_HALF_UP)
    return line.with_unit_price(decimal_text(full))


def _midnight(epoch: int) -> int:
    return epoch - epoch % _DAY


def _billing_period(anchor: int, months: int, day: int) -> tuple[int, int]:
    """The billing period (from the contract's start, every ``months``) holding ``day``."""
    count = 0
    begin = anchor
    while True:
        count += 1
        following = add_months(anchor, months * count)
        if following > day:
            return begin, following
        begin = following


def _held_phase(known: KnownSchedule | None, order_id: str) -> KnownPhase | None:
    if known is None:
        return None
    return next((p for p in known.phases[1:] if p.order_id == order_id), None)


def _phases(
    segments: list[_Segment],
    opening: PhaseDraft,
    timeline: _Timeline,
    end: int,
    known: KnownSchedule | None,
    context: PlanningContext,
) -> list[dict[str, Any]]:
    """The schedule's phases, each ending where the next starts; ended phases as Stripe has them."""
    segments = _by_mdq_segment(segments, timeline, end)
    live = [s for s in segments if s.quantities]
    ends: list[int | str] = [s.start for s in segments[1:]]
    ends.append(end)
    phases: list[dict[str, Any]] = []
    for index, segment in enumerate(live):
        if index == 0:
            params = {k: v for k, v in opening.params.items() if k not in ("duration", "end_date")}
        else:
            params = {
                "proration_behavior": "none",
                "metadata": record_metadata("order", segment.order_id, context),
            }
        params["items"] = [
            _with_quantity(timeline.entries[line_id], quantity, segment.item_discounts.get(line_id))
            for line_id, quantity in segment.quantities.items()
        ]
        if segment.discounts:
            params["discounts"] = segment.discounts  # A5: else the customer's would apply
        if segment.invoice_items:
            params["add_invoice_items"] = segment.invoice_items
        params["end_date"] = ends[index]
        phases.append(params)
    # O7: a term that is not whole billing periods ends in a shorter, prorated phase (split
    # before ended phases are replaced by Stripe's, which holds it split already). MDQ
    # segments are whole billing periods each, covering the term (A6): nothing to split.
    if not timeline.segment_of:
        phases = split_contract_phases(
            timeline.builder,
            phases,
            timeline.prices.line_drafts,
            start=timeline.start,
            term_months=timeline.term,
            now=context.now_epoch,
            context=context,
        )
    if known is not None:
        for index, held in enumerate(known.phases[: len(phases)]):
            if held.end_date <= context.now_epoch and held.params:
                phases[index] = dict(held.params)  # Stripe refuses changes to the past
            elif held.start_date <= context.now_epoch:
                if held.params:
                    phases[index] = _with_held_inline_prices(phases[index], held.params, context)
                # A5: the running phase, and every phase after it, keep its discounts.
                for later in range(index, len(phases)):
                    phases[later] = keeping_discounts(phases[later], held.discounts, context)
    return phases


def _with_held_inline_prices(
    phase: dict[str, Any], held: Mapping[str, Any], context: PlanningContext
) -> dict[str, Any]:
    """A running phase's ``price_data`` items (O7's final period) as the prices Stripe made of
    them when the phase was sent: its single bill was made at its start, so the price stays;
    sending ``price_data`` again would make another price each update, and a replay could
    never find the phase unchanged. Matched by the item's line (K1 metadata)."""
    key = metadata_key("salesforce_order_item_id", sandbox=context.sandbox)

    def line_of(item: Mapping[str, Any]) -> Any:
        return (item.get("metadata") or {}).get(key)

    made = {line_of(i): i.get("price") for i in held.get("items") or () if line_of(i)}
    items = []
    for item in phase.get("items") or ():
        price = made.get(line_of(item))
        if "price_data" in item and isinstance(price, str):
            item = {**{k: v for k, v in item.items() if k != "price_data"}, "price": price}
        items.append(item)
    return {**phase, "items": items}


def _by_mdq_segment(segments: list[_Segment], timeline: _Timeline, end: int) -> list[_Segment]:
    """A6: each phase cut where a segment of one of its MDQ lines starts or ends inside it
    (the initial order's segments, and those of MDQ products amendments added); every piece
    bills the plain lines and the segment lines running at its start (one phase per segment,
    as for a new MDQ order). The first piece keeps the phase's one-time items; every piece
    its coupons."""
    if not timeline.segment_of:
        return segments
    held = timeline.segment_of
    out: list[_Segment] = []
    until: list[int | str] = [s.start for s in segments[1:]]
    until.append(end)
    for segment, stop in zip(segments, until, strict=True):
        if not segment.quantities:
            out.append(segment)
            continue
        at, last = timeline.instant(segment.start), timeline.instant(stop)
        bounds = {m.start for m in timeline.mdq.values()}
        for line_id in segment.quantities:
            if line_id in held:
                bounds.update((held[line_id].start, held[line_id].end))
        cuts = sorted(b for b in bounds if at < b < last)
        for number, begins in enumerate([segment.start, *cuts]):
            point = at if number == 0 else int(begins)
            quantities = {
                line_id: quantity
                for line_id, quantity in sorted(
                    segment.quantities.items(), key=lambda pair: pair[0] in held
                )
                if line_id not in held or held[line_id].start <= point < held[line_id].end
            }
            if not quantities:
                running = next((m for m in timeline.mdq.values() if m.start <= point < m.end), None)
                zeroed = (
                    f"segment {running.index} of the contract bills nothing (its OrderItems "
                    f"{', '.join(running.line_ids)} are at zero)"
                    if running is not None
                    else "the contract bills nothing (its running segments are at zero)"
                )
                raise OrderFault(
                    "A6",
                    f"From {_day(point)}, {zeroed} while other lines of the contract still "
                    "bill; a subscription schedule phase needs an item (cancel the contract, or "
                    "keep a quantity in that segment)",
                    segment.order_id,
                )
            invoice_items = segment.invoice_items if number == 0 else []
            out.append(
                _Segment(
                    segment.order_id,
                    begins,
                    quantities,
                    invoice_items,
                    segment.discounts,
                    segment.item_discounts,
                )
            )
    return out


def _with_quantity(
    entry: Mapping[str, Any], quantity: int, coupons: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The line's item in one phase: its quantity there, and the coupons of the amendment lines
    that changed it so far after its own (A5)."""
    item = dict(entry)
    if "quantity" in entry:
        item["quantity"] = quantity  # a metered item has none (P4)
    if coupons:
        item["discounts"] = [*(entry.get("discounts") or []), *coupons]
    return item
