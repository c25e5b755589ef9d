"""Sync preferences that decide whether a record syncs at all: S2 start date, S3 filters,
S4 live sync, and S5 which currency it bills in.

Filters are SOQL WHERE fragments evaluated against the hydrated record with the project's one
SOQL grammar (`cpqsync.soql`), so a filter means here exactly what it means in the org.
"""

from __future__ import annotations

import functools

from consumer.sync.mapping.data_error import DataError
from consumer.sync.planning.context import PlanningContext
from consumer.sync.planning.plan import Issue, SourceRecord
from consumer.sync.planning.problems import ConnectorError
from consumer.sync.planning.views import OrderView, RecordView
from cpqsync.soql import And, Condition, Not, Or, SoqlError, evaluate, parse_where

DEFAULT_ORDER_FILTER = "Status = 'Activated'"


@functools.lru_cache(maxsize=64)
def _parsed(object_type: str, text: str) -> Condition:
    # Filters come from configuration and rarely change; parse each text once.
    try:
        return parse_where(text)
    except SoqlError as exc:
        raise ConnectorError(
            "S3", f"The {object_type} sync filter is not valid SOQL: {exc}"
        ) from None


def filter_fields(object_type: str, text: str) -> list[str]:
    """The field paths a filter reads, so hydration can fetch them."""
    out: list[str] = []
    pending: list[Condition] = [_parsed(object_type, text)]
    while pending:
        condition = pending.pop()
        if isinstance(condition, And | Or):
            pending.extend(condition.items)
        elif isinstance(condition, Not):
            pending.append(condition.item)
        else:
            out.append(condition.field.text)
    return sorted(set(out))


def filter_for(object_type: str, context: PlanningContext) -> str | None:
    """The filter that applies: the configured one, else the Order default (rule S3)."""
    configured = context.settings.sync.filters.get(object_type)  # type: ignore[call-overload]
    if configured:
        return str(configured)
    return DEFAULT_ORDER_FILTER if object_type == "Order" else None


def passes_filter(
    object_type: str, text: str, record: RecordView, context: PlanningContext
) -> bool:
    try:
        # A filter may name any field, custom ones and parents' included: the record as hydrated.
        return evaluate(_parsed(object_type, text), record.raw, now=context.now)
    except SoqlError as exc:
        raise ConnectorError(
            "S3", f"The {object_type} sync filter cannot be decided for this record: {exc}"
        ) from None


def gate(record: SourceRecord, data: RecordView, context: PlanningContext) -> Issue | None:
    """The skip that keeps ``record`` from syncing (S4 live sync off, S3 filter), if any.

    Live-sync skips are only counted (no Sync Record); a manual sync reports them.
    """
    reported = context.trigger == "manual"
    if context.trigger == "live" and not context.settings.sync.live:
        return Issue("S4", "Skipped: live sync is off", record, reported=False)
    text = filter_for(record.object_type, context)
    if text is not None and not passes_filter(record.object_type, text, data, context):
        return Issue(
            "S3",
            f"Skipped: excluded by the {record.object_type} sync filter: {text}",
            record,
            reported=reported,
        )
    return None


def check_start_date(order: OrderView, context: PlanningContext) -> None:
    """Rule S2: an order activated before the integration start date is not synced."""
    start = context.settings.sync.start_date
    if start is None:
        return
    activated = order.activated
    if activated is not None and activated < start:
        raise DataError(
            "S2",
            f"Failed to sync pre-integration order (activated {activated.isoformat()}, before "
            f"the sync start date {start.isoformat()}, setting sync.start_date)",
        )


def currency_of(record: RecordView, context: PlanningContext) -> str:
    """Rule S5: the default currency, or the record's own when multi-currency is on."""
    sync = context.settings.sync
    if sync.multi_currency:
        code = record.currency_code
        if code:
            return code.lower()
    return sync.default_currency.lower()
