"""Leave alone what already matches: drop updates that would set what Stripe already holds.

Reconciling a record that is already in sync should cost nothing and change nothing: an update
whose every parameter equals the current object's value (the plan is a subset of the object) is
removed from the plan before it is applied. (A schedule's items may use line prices archived
once the schedule existed, rule P6; Stripe takes those back only where the schedule already
uses them, so an unchanged update is at best a write for nothing.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from consumer.sync.planning import Operation, Plan, is_ref
from consumer.sync.planning.identity import PHASE_NAME_KEYS
from consumer.sync.stripe_operations import operation_kind


def _same_scalar(wanted: Any, current: Any) -> bool:
    if wanted == current:
        return True
    if isinstance(wanted, bool) or isinstance(current, bool):
        return False
    try:
        return Decimal(str(wanted)) == Decimal(str(current))
    except (InvalidOperation, ValueError):
        return False


def contained(wanted: Any, current: Any) -> bool:
    """Whether every value in ``wanted`` is already in ``current`` (lists: item by item)."""
    if is_ref(wanted):
        return False  # an id not known before applying cannot already be there
    if isinstance(wanted, Mapping):
        if isinstance(current, str) and set(wanted) == {"id"}:
            return bool(wanted["id"] == current)
        if not isinstance(current, Mapping):
            return False
        if "price_data" in wanted and "price_data" not in current and current.get("price"):
            return _inline_price_held(wanted, current)
        return all(contained(value, current.get(key)) for key, value in wanted.items())
    if isinstance(wanted, list):
        if not isinstance(current, list) or len(wanted) != len(current):
            return False
        return all(contained(w, c) for w, c in zip(wanted, current, strict=True))
    if isinstance(current, Mapping) and isinstance(wanted, str):
        return current.get("id") == wanted  # an expanded object where the plan names its id
    if wanted == "" and current in (None, ""):
        return True  # "" unsets a value that is already unset
    return _same_scalar(wanted, current)


def _inline_price_held(wanted: Mapping[str, Any], current: Mapping[str, Any]) -> bool:
    """An item sent with an inline ``price_data`` that Stripe holds as the price it made of it.

    Stripe answers with the made price (an id, or the object when expanded), never the
    ``price_data``. An expanded price is compared field by field. An id alone proves nothing:
    an inline line price (``sync.inline_line_prices``) changes with its line's UnitPrice while
    everything else in the update stays the same, so the update is sent (its key makes that
    safe); the lookups expand schedule items' prices, so replays compare fields."""
    rest = {k: v for k, v in wanted.items() if k != "price_data"}
    if not contained(rest, current):
        return False
    price = current["price"]
    if not isinstance(price, Mapping):
        return False
    data = wanted["price_data"]
    return all(contained(data[k], price.get(k)) for k in data)


# How Stripe should treat a change (a schedule update's top-level proration_behavior, A1), not
# state: no object shows it, so it says nothing about whether the update changes anything.
_DIRECTIVES = frozenset({"proration_behavior"})


def _compared(op: Operation) -> Mapping[str, Any]:
    """What of an update must already be in Stripe for it to change nothing."""
    params = {k: v for k, v in op.params.items() if k not in _DIRECTIVES}
    return _without_phase_names(params)


def _without_phase_names(params: dict[str, Any]) -> dict[str, Any]:
    """A phase's name for its order (K1's ``salesforce_order_id``) alone is not a change either:
    schedules synced before K1 have phases without it, and rewriting their phases only to add
    it would re-send their archived line prices, which Stripe refuses. It is added with the
    next real change of the schedule."""
    phases = params.get("phases")
    if not isinstance(phases, list):
        return params
    return {**params, "phases": [_unnamed(phase) for phase in phases]}


def _unnamed(phase: Any) -> Any:
    metadata = phase.get("metadata") if isinstance(phase, Mapping) else None
    if not isinstance(metadata, Mapping):
        return phase
    rest = {k: v for k, v in metadata.items() if k not in PHASE_NAME_KEYS}
    without = {k: v for k, v in phase.items() if k != "metadata"}
    return {**without, "metadata": rest} if rest else without


def without_unchanged_updates(plan: Plan, current: Mapping[str, Mapping[str, Any]]) -> Plan:
    """``plan`` minus the updates whose target (by id, in ``current``) already matches."""
    kept = tuple(
        op
        for op in plan.operations
        if not (
            operation_kind(op.kind).updates
            and isinstance(op.target, str)
            and op.target in current
            and contained(_compared(op), current[op.target])
        )
    )
    if len(kept) == len(plan.operations):
        return plan
    return dataclasses.replace(plan, operations=kept)
