"""Cancelling an evergreen subscription by a zero-quantity amendment (rule A4).

An evergreen contract (``evergreen.py``) has no end date, so its amendments are not phases of a
term: the only amendment derived is the cancellation, an activated amendment taking every line
to zero from its start date. Any other amendment of an evergreen contract is a Data Error. Where
the cancellation leaves the subscription depends on what Stripe holds:

- no schedule yet: a future cancellation creates the schedule ending (``end_behavior = cancel``)
  at the cancellation's start; one dated today or earlier is skipped (reported): nothing was
  billed, and nothing will be;
- the schedule still holds the subscription (``not_started``/``active``, its first phase): a
  future cancellation ends its phase at that date with ``end_behavior = cancel``; today or
  earlier cancels the schedule at once (as A2 does);
- the schedule has released the subscription: a future cancellation sets the subscription's
  ``cancel_at``; today or earlier cancels the subscription at once (its open period is not
  prorated, as A2);
- already cancelled or completed: nothing to do.

Every order of the contract names the subscription once it exists (``evergreen.order_writeback``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from consumer.sync.mapping.data_error import DataError
from consumer.sync.planning.builder import PlanBuilder
from consumer.sync.planning.context import KnownSchedule, PlanningContext
from consumer.sync.planning.coupons import keeping_discounts, plan_discounts
from consumer.sync.planning.evergreen import order_writeback
from consumer.sync.planning.orders import (
    SCHEDULE_OPERATION,
    PhaseDraft,
    active_lines,
    plan_line,
    whole_quantity,
)
from consumer.sync.planning.plan import Issue, SourceRecord
from consumer.sync.planning.prices import PriceRef
from consumer.sync.planning.views import OrderView
from cpqsync.mapping.stripe_schema import ENDPOINT_PARAMS, fields_of

SCHEDULE_CANCEL_OPERATION = "subscription_schedule_cancel"
SUBSCRIPTION_CANCEL_OPERATION = "subscription_cancel"
SUBSCRIPTION_UPDATE_OPERATION = "subscription_update"


def plan_evergreen_contract(
    builder: PlanBuilder,
    initial: OrderView,
    amendments: Sequence[OrderView],
    schedule: dict[str, Any],
    opening: PhaseDraft,
    known: KnownSchedule | None,
    customer: PriceRef,
    context: PlanningContext,
    *,
    currency: str,
) -> PhaseDraft:
    """Add the operations of an evergreen contract with activated amendments; its prices."""
    prices = PhaseDraft({}, None)
    lines = active_lines(builder, initial)
    for line in lines:
        with builder.blame(SourceRecord("OrderItem", line.id), contain=True):
            plan_line(builder, initial, line, prices, context, currency=currency)
    if builder.failed:
        return prices
    # A5: the initial order's coupons stay on the subscription until it is cancelled.
    plan_discounts(
        builder, initial, opening.params, prices.items, lines, context, currency=currency
    )
    if builder.failed:
        return prices
    cancel_at = _cancellation_start(initial, amendments, builder)
    writebacks = tuple(order_writeback(SourceRecord("Order", o.id)) for o in (initial, *amendments))
    record = SourceRecord("Order", initial.id)
    now = cancel_at <= context.now_epoch
    start = int(schedule["start_date"])
    if known is None:
        if now or cancel_at <= start:
            builder.skip(
                Issue(
                    "A4",
                    "Skipped: the evergreen subscription was cancelled before it was synced; "
                    "nothing to bill",
                    builder.root,
                )
            )
            return prices
        phase = {**_phase(opening, prices), "end_date": cancel_at}
        params = {"customer": customer, **schedule, "end_behavior": "cancel", "phases": [phase]}
        builder.add(
            SCHEDULE_OPERATION,
            "subscription_schedule.create",
            params,
            record,
            writeback=writebacks,
        )
        return prices
    if known.status in ("canceled", "completed"):
        return prices  # ended already: the cancellation is done
    if known.status == "released":
        if known.subscription is None:
            raise DataError(
                "A4",
                f"The evergreen subscription schedule {known.id} was released, but Stripe names "
                "no subscription for it to cancel",
            )
        if now:
            builder.add(
                SUBSCRIPTION_CANCEL_OPERATION,
                "subscription.cancel",
                {"invoice_now": True, "prorate": False},
                record,
                target=known.subscription,
                writeback=writebacks,
            )
        else:
            builder.add(
                SUBSCRIPTION_UPDATE_OPERATION,
                "subscription.update",
                {"cancel_at": cancel_at, "proration_behavior": "none"},
                record,
                target=known.subscription,
                writeback=writebacks,
            )
        return prices
    if now:
        builder.add(
            SCHEDULE_CANCEL_OPERATION,
            "subscription_schedule.cancel",
            {"invoice_now": True, "prorate": False},
            record,
            target=known.id,
            writeback=writebacks,
        )
        return prices
    allowed = fields_of(ENDPOINT_PARAMS["subscription_schedule.update"])
    update = {k: v for k, v in schedule.items() if k in allowed}
    first_start = known.phases[0].start_date if known.phases else start
    phase = {"start_date": first_start, **_phase(opening, prices), "end_date": cancel_at}
    if known.phases and known.phases[0].start_date <= context.now_epoch:
        phase = keeping_discounts(phase, known.phases[0].discounts, context)  # A5: not re-made
    update.update(end_behavior="cancel", proration_behavior="none", phases=[phase])
    builder.add(
        SCHEDULE_OPERATION,
        "subscription_schedule.update",
        update,
        record,
        target=known.id,
        writeback=writebacks,
    )
    return prices


def _phase(opening: PhaseDraft, prices: PhaseDraft) -> dict[str, Any]:
    params = {k: v for k, v in opening.params.items() if k not in ("end_date", "duration")}
    params["items"] = prices.items
    if prices.invoice_items:
        params["add_invoice_items"] = prices.invoice_items
    return params


def _cancellation_start(
    initial: OrderView, amendments: Sequence[OrderView], builder: PlanBuilder
) -> int:
    """The first amendment's start, once the amendments take every line to zero."""
    live: dict[str, int] = {}
    for line in active_lines(builder, initial):
        live[line.id] = whole_quantity(line)
    for amendment in amendments:
        for line in active_lines(builder, amendment):
            original = line.revises or line.id
            live[original] = live.get(original, 0) + whole_quantity(line)
    changed = [a.id for a in amendments]
    if any(quantity for quantity in live.values()):
        raise DataError(
            "A4",
            f"Order(s) {', '.join(changed)} amend an evergreen subscription without cancelling "
            "every line; only a cancellation (every line to zero) is supported for evergreen "
            "orders",
        )
    begins = amendments[0].quote.start
    if begins is None:
        raise DataError(
            "M2",
            "The following required fields are missing: SBQQ__Quote__r.SBQQ__StartDate__c "
            f"(Order {changed[0]})",
        )
    return begins
