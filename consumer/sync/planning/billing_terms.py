"""CPQ billing picklists to Stripe terms: frequency (P3), billing type (P4), payment terms (O4)."""

from __future__ import annotations

from consumer.sync.mapping.data_error import DataError
from cpqsync.mapping.payment_terms import UnsupportedDaysUntilDue
from cpqsync.mapping.payment_terms import days_until_due as parse_days_until_due

_FREQUENCY_MONTHS = {"monthly": 1, "quarterly": 3, "semiannual": 6, "annual": 12}
# The picklist values as Salesforce sends them: an exact hit skips normalising, which every
# line and pricebook entry would otherwise repeat.
_FREQUENCY_LABELS = {"Monthly": 1, "Quarterly": 3, "Semiannual": 6, "Annual": 12}
_USAGE_LABELS = {"Advance": "licensed", "Arrears": "metered"}


def interval_count(billing_frequency: str | None) -> int:
    """Rule P3: months per billing period; empty means monthly."""
    if billing_frequency in _FREQUENCY_LABELS:
        return _FREQUENCY_LABELS[billing_frequency]
    if not billing_frequency:
        return 1
    months = _FREQUENCY_MONTHS.get(billing_frequency.strip().lower())
    if months is None:
        raise DataError(
            "P3",
            "Billing frequency is not a supported CPQ Billing Frequency option: "
            f"{billing_frequency}",
        )
    return months


def usage_type(billing_type: str | None) -> str:
    """Rule P4: Advance (or empty) bills up front (licensed); Arrears bills usage (metered)."""
    if billing_type in _USAGE_LABELS:
        return _USAGE_LABELS[billing_type]
    value = (billing_type or "").strip().lower()
    if value in ("", "advance"):
        return "licensed"
    if value == "arrears":
        return "metered"
    raise DataError(
        "P4", f"Billing type is not a supported CPQ Billing Type option: {billing_type}"
    )


def days_until_due(
    payment_term: str | float | None, *, source: str = "SBQQ__PaymentTerm__c"
) -> int | None:
    """Rule O4: "30", "3 0", "30.0", "Net 30" and "Net-30" give 30 days; empty gives None."""
    try:
        return parse_days_until_due(payment_term)
    except UnsupportedDaysUntilDue as exc:
        raise DataError(
            exc.rule,
            f"{exc} (from {source}; use a whole number of days or one of Net 15, Net 30, "
            "Net 45, Net 60, Net 90)",
        ) from None
