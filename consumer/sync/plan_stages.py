"""Which operations of a plan may be sent to Stripe at the same time.

A plan is ordered, and most of its order matters: a schedule needs its line prices, a line
price is archived only once the schedule using it exists (P6), a replacement pricebook price
takes the lookup key before the old one is archived (P7). But neighbours of the same kind that
do not use one another's results are independent: an order's two line prices, the products of
a first order, the archives after its schedule. Sending those together turns an order's chain
of 150 ms round trips from one per operation into one per stage, without changing what is sent
or the order in which dependent operations happen.

``stages(operations)`` splits the plan into consecutive stages; a stage holds one operation, or
several operations of one parallel-safe kind that neither reference each other (``$ref``), nor
act on the same object, nor claim the same lookup key.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from consumer.sync.planning import Operation, is_ref
from consumer.sync.planning.plan import REF_KEY
from consumer.sync.stripe_operations import operation_kind


def stages(operations: Sequence[Operation]) -> list[tuple[Operation, ...]]:
    out: list[tuple[Operation, ...]] = []
    current: list[Operation] = []
    for operation in operations:
        if current and _joins(operation, current):
            current.append(operation)
            continue
        if current:
            out.append(tuple(current))
        current = [operation]
    if current:
        out.append(tuple(current))
    return out


def _joins(operation: Operation, stage: list[Operation]) -> bool:
    # Creates of customers, meters, schedules and invoices come one per plan, and invoice items
    # keep their order on the invoice: only the table's parallel kinds share a stage.
    if not operation_kind(operation.kind).parallel or operation.kind != stage[0].kind:
        return False
    in_stage = {op.id for op in stage}
    if any(used in in_stage for used in _references(operation.params, operation.target)):
        return False
    if operation.target is not None and any(op.target == operation.target for op in stage):
        return False
    key = _lookup_key(operation)
    return key is None or all(_lookup_key(op) != key for op in stage)


def _lookup_key(operation: Operation) -> str | None:
    params = operation.params
    value = params.get("lookup_key") if isinstance(params, dict) else None
    return str(value) if value else None


def _references(*values: Any) -> Iterator[str]:
    """The operation ids a value's ``$ref`` placeholders name."""
    for value in values:
        if is_ref(value):
            yield str(value[REF_KEY]).rpartition(".")[0]
        elif isinstance(value, dict):
            yield from _references(*value.values())
        elif isinstance(value, list):
            yield from _references(*value)
