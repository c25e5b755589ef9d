"""A record's billing state: the Stripe objects read for it -> its Salesforce field values.

``sources`` holds the current ``subscription``, its latest ``invoice`` (or a one-time
order's invoice) and the ``customer``, as dictionaries; ``billing`` is derived here.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from consumer.sync.planning.amounts import minor_unit_exponent
from cpqsync.mapping.reverse_mappings import SourcePath, Transform

# Statuses of a subscription that will invoice again.
_BILLING_STATUSES = frozenset({"active", "past_due", "trialing", "unpaid"})


def _first_item_period_end(subscription: dict[str, Any]) -> Any:
    items = (subscription.get("items") or {}).get("data") or []
    return items[0].get("current_period_end") if items else None


def derived(subscription: dict[str, Any] | None, invoice: dict[str, Any] | None) -> dict[str, Any]:
    """``billing.*``: the next invoice date, and how the latest invoice's payment went.

    A failed automatic charge is dated at the invoice's finalization, when Stripe first
    charges it; a paid invoice at ``status_transitions.paid_at``."""
    view: dict[str, Any] = {
        "next_invoice_date": None,
        "last_payment_status": None,
        "last_payment_date": None,
    }
    if subscription and subscription.get("status") in _BILLING_STATUSES:
        end = _first_item_period_end(subscription)
        cancel_at = subscription.get("cancel_at")
        if not (cancel_at and end and cancel_at <= end):
            view["next_invoice_date"] = end
    if invoice:
        transitions = invoice.get("status_transitions") or {}
        if invoice.get("status") == "paid":
            view["last_payment_status"] = "succeeded"
            view["last_payment_date"] = transitions.get("paid_at")
        elif invoice.get("attempted") and invoice.get("attempt_count"):
            view["last_payment_status"] = "failed"
            view["last_payment_date"] = transitions.get("finalized_at")
    return view


def salesforce_datetime(seconds: int) -> str:
    """Unix seconds as Salesforce writes and reads a datetime."""
    moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _convert(value: Any, transform: Transform, currency: str | None) -> Any:
    if value is None or transform is Transform.NONE:
        return value
    if transform is Transform.MONEY:
        exponent = minor_unit_exponent(currency or "usd")
        return float(Decimal(int(value)).scaleb(-exponent))
    if transform is Transform.DATETIME:
        return salesforce_datetime(int(value))
    return dt.datetime.fromtimestamp(int(value), dt.UTC).date().isoformat()


def field_values(paths: dict[str, SourcePath], sources: dict[str, Any]) -> dict[str, Any]:
    """Each mapped Salesforce field's value (None clears the field)."""
    sources = {**sources, "billing": derived(sources.get("subscription"), sources.get("invoice"))}
    values: dict[str, Any] = {}
    for field, path in paths.items():
        owner = sources.get(path.root) or {}
        currency = owner.get("currency") if isinstance(owner, dict) else None
        if path.root == "billing":
            currency = (sources.get("invoice") or {}).get("currency")
        values[field] = _convert(path.read(sources), path.transform, currency)
    return values
