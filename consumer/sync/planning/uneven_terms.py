"""Terms that are not a whole number of billing periods (rule O7).

An 18-month term billed yearly is 1.5 periods. Stripe bills a recurring price only in whole
periods, so the schedule gets two phases:

1. the whole periods (12 months) with the lines' usual prices (P5: per-period amount = UnitPrice
   / (term / interval));
2. a final, shorter phase for the remainder (6 months) whose licensed items use an inline
   recurring price (``price_data``) billed once every *remainder* months, at the per-period
   amount x remainder / interval (600.00 for a 1,200.00 yearly price), with
   ``billing_cycle_anchor = phase_start`` so that Stripe bills it at the phase's start, and
   ``proration_behavior = none`` (the first phase ends on a billing date: nothing to prorate).
   The schedule then ends (``end_behavior``) at the term's end, as before.

Why this form: Stripe has no partial billing period for a schedule phase; cancelling mid-period
would bill a whole year and credit back the unused months (a credit the customer never sees as
cash), and a one-time remainder charge cannot stand alone (a phase needs recurring items). A
price of the remainder's own interval bills exactly the remainder, once, at its start.

A metered line keeps its price in the final phase (its usage is billed in arrears when the
schedule ends). A tiered licensed line cannot be prorated (tiers are per unit, not per
period): a Data Error. A term shorter than one period is the final phase alone.

An amended contract (A1) is split the same way (``split_contract_phases``): the phase running
at the end of the whole periods ends there, and the final phase bills what that phase held, at
the remainder's prices. An amendment starting inside the final, shorter period keeps that
period's single bill: its phase takes the remainder's prices without a new billing anchor, and
what it adds is billed for the rest of the final period (a proration item, ``contracts.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from consumer.sync.mapping.data_error import DataError
from consumer.sync.planning.builder import PlanBuilder
from consumer.sync.planning.context import PlanningContext
from consumer.sync.planning.identity import metadata_key
from consumer.sync.planning.plan import SourceRecord
from consumer.sync.planning.schedule_dates import add_months
from cpqsync.mapping.coercion import decimal_text, to_decimal

_QUANTUM = Decimal(1).scaleb(-12)


def remainder_months(term_months: int | None, interval_count: int) -> int:
    """Months of the term after its last whole billing period (0 when it divides evenly)."""
    return term_months % interval_count if term_months else 0


def split_phases(
    builder: PlanBuilder,
    phase_params: dict[str, Any],
    line_drafts: Mapping[str, Mapping[str, Any]],
    *,
    start: Any,
    term_months: int | None,
    context: PlanningContext,
) -> list[dict[str, Any]]:
    """``phase_params`` (the order's one phase) as the phases it bills in (O7)."""
    items = phase_params.get("items") or []
    interval = _interval(items, line_drafts, context)
    rest = remainder_months(term_months, interval) if interval else 0
    if not rest:
        return [phase_params]
    assert term_months is not None
    whole = term_months - rest
    final = _final_phase(builder, phase_params, line_drafts, rest, interval, context)
    if final is None:
        return [phase_params]
    first = {k: v for k, v in phase_params.items() if k not in ("end_date", "duration")}
    if isinstance(phase_params.get("end_date"), int) and isinstance(start, int):
        first["end_date"] = add_months(start, whole)
        final["end_date"] = phase_params["end_date"]
    else:
        first["duration"] = {"interval": "month", "interval_count": whole}
        final["duration"] = {"interval": "month", "interval_count": rest}
    if not whole:
        # Shorter than one period: the remainder is the whole schedule (its first phase).
        lead = {k: v for k, v in phase_params.items() if k not in ("items",)}
        return [{**lead, "items": final["items"]}]
    final["billing_cycle_anchor"] = "phase_start"
    return [first, final]


def _final_phase(
    builder: PlanBuilder,
    held: Mapping[str, Any],
    line_drafts: Mapping[str, Mapping[str, Any]],
    rest: int,
    interval: int,
    context: PlanningContext,
) -> dict[str, Any] | None:
    """The final, shorter phase billing what ``held`` holds at the remainder's prices (None
    when a line cannot be prorated: its error is recorded)."""
    final: dict[str, Any] = {
        "proration_behavior": "none",
        "metadata": held.get("metadata"),
        "items": [],
    }
    if held.get("discounts"):
        final["discounts"] = held["discounts"]  # A5: the order's coupons, every phase
    for item in held.get("items") or []:
        # R4: a line that cannot be prorated is that line's fault; every line is checked.
        with builder.blame(SourceRecord("OrderItem", _line_id(item, context)), contain=True):
            final["items"].append(_remainder_item(item, line_drafts, rest, interval, context))
    return None if builder.failed else final


def split_contract_phases(
    builder: PlanBuilder,
    phases: list[dict[str, Any]],
    line_drafts: Mapping[str, Mapping[str, Any]],
    *,
    start: int,
    term_months: int,
    now: int,
    context: PlanningContext,
) -> list[dict[str, Any]]:
    """An amended contract's phases (each ending at ``end_date``, epoch seconds or ``"now"``)
    with the final shorter period split off (O7).

    The phase running when the whole periods end stops there and its final part bills the
    remainder once, at its start (``billing_cycle_anchor: phase_start``). A phase an amendment
    starts inside the final period keeps that billing: it takes the remainder's prices too,
    without a new anchor (same interval, so Stripe keeps the cycle, and ``proration_behavior:
    none`` bills nothing for the change); what the amendment adds is billed for the rest of
    the final period by its ``add_invoice_items`` (``contracts.py``)."""
    items = [item for phase in phases for item in phase.get("items") or []]
    interval = _interval(items, line_drafts, context)
    rest = remainder_months(term_months, interval) if interval else 0
    if not rest or not phases:
        return phases
    boundary = add_months(start, term_months - rest)
    ends = [p["end_date"] if isinstance(p["end_date"], int) else now for p in phases]
    begins = [start, *ends[:-1]]
    out: list[dict[str, Any]] = []
    for index, phase in enumerate(phases):
        if ends[index] <= boundary:
            out.append(phase)
            continue
        final = _final_phase(builder, phase, line_drafts, rest, interval, context)
        if final is None:
            return phases
        if begins[index] < boundary:
            final["end_date"] = phase["end_date"]
            final["billing_cycle_anchor"] = "phase_start"
            out += [{**phase, "end_date": boundary}, final]
            continue
        later = {**phase, "items": final["items"]}
        if begins[index] == boundary and index:
            later["billing_cycle_anchor"] = "phase_start"  # it starts the final period
        out.append(later)
    return out


def _line_id(item: Mapping[str, Any], context: PlanningContext) -> str:
    key = metadata_key("salesforce_order_item_id", sandbox=context.sandbox)
    return str((item.get("metadata") or {}).get(key) or "")


def _interval(
    items: list[Mapping[str, Any]],
    line_drafts: Mapping[str, Mapping[str, Any]],
    context: PlanningContext,
) -> int:
    """The phase's billing interval in months (one for all its lines, rule O6)."""
    for item in items:
        recurring = line_drafts.get(_line_id(item, context), {}).get("recurring")
        if isinstance(recurring, Mapping):
            return int(recurring.get("interval_count") or 1)
    return 0


def _remainder_item(
    item: Mapping[str, Any],
    line_drafts: Mapping[str, Mapping[str, Any]],
    rest: int,
    interval: int,
    context: PlanningContext,
) -> dict[str, Any]:
    line_id = _line_id(item, context)
    draft = line_drafts.get(line_id, {})
    recurring = draft.get("recurring")
    if isinstance(recurring, Mapping) and recurring.get("usage_type") == "metered":
        return dict(item)  # usage is billed in arrears: the price is per unit, not per period
    per_period = draft.get("unit_amount_decimal")
    if per_period is None:
        raise DataError(
            "O7",
            f"OrderItem {line_id} has tiered pricing, which cannot be prorated over the "
            f"final {rest}-month period of a term that is not a whole number of "
            f"{interval}-month billing periods; make the term a multiple of the billing "
            "frequency",
        )
    share = Decimal(rest) / Decimal(interval)
    amount = (to_decimal(per_period) * share).quantize(_QUANTUM, ROUND_HALF_UP)
    out = {k: v for k, v in item.items() if k != "price"}
    out["price_data"] = {
        "currency": draft["currency"],
        "product": draft["product"],
        "recurring": {"interval": "month", "interval_count": rest},
        "unit_amount_decimal": decimal_text(amount),
    }
    return out
