"""Evergreen orders (rule A4): a subscription with no end date.

An order whose recurring lines are ``SBQQ__SubscriptionType__c = Evergreen`` runs until it is
cancelled. It is billed by a schedule of one phase from the quote's start to start + its term
(CPQ requires a term of 1 month for evergreen quotes) with ``end_behavior = release``: Stripe
starts the subscription at the start date, and at the phase's end releases it into a plain
Subscription that renews every billing period with no end date. Each line's price is its
``UnitPrice`` per billing period (P5 does not divide an evergreen price by a term).

Why a schedule rather than creating the Subscription directly: one form serves a start in the
past, today or in the future. A future start is billed from the start date exactly (the schedule
holds nothing until then), where a subscription created now would have to be made to wait with a
trial (it would show as ``trialing`` and send trial emails) or a future ``billing_cycle_anchor``
(it would be active, and invoice a proration or a zero invoice, before the contract starts).

``Order.Stripe_ID__c`` names the subscription once it exists: the schedule's answer names the
subscription it started (``SUBSCRIPTION_ATTRIBUTE``); until the start date it names the schedule.
A later sync finds the schedule again from the subscription (its ``schedule``, or the
``salesforce_order_id`` metadata once released) and, with nothing to change, reports the
subscription, so an order synced before its start comes to name its subscription by a re-sync
that writes nothing to Stripe. Once released, the schedule is left alone: the subscription is
no longer its to change (only a cancellation amends it: ``evergreen_contracts.py``).

Evergreen subscriptions are invoiced: ``collection_method = send_invoice`` with
``days_until_due`` from the payment term (O4) or a mapping; without either the sync fails naming
the field. An order mixing evergreen and renewable lines, or an evergreen quote whose term is not
1, is a Data Error in the reference connector's words.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from consumer.sync.mapping.data_error import DataError
from consumer.sync.planning.plan import SourceRecord, WriteBack
from consumer.sync.planning.schedule_dates import whole_months
from consumer.sync.planning.views import OrderItemView, QuoteView

EVERGREEN = "evergreen"
MIXED = "Salesforce orders with both Evergreen and Renewable items are not yet supported."
TERM_OF_ONE = (
    "Evergreen Salesforce orders should have default subscription term and quote subscription "
    "term equal to 1."
)


# Where a schedule's answer names the subscription it has started (null before its start date).
SUBSCRIPTION_ATTRIBUTE = "subscription"
# A schedule that has let go of its subscription, or ended: nothing of it to update.
LET_GO = ("released", "canceled", "completed")


def order_writeback(record: SourceRecord) -> WriteBack:
    """An evergreen order's ``Stripe_ID__c``: its subscription once the schedule started one."""
    return WriteBack(record, "Stripe_ID__c", SUBSCRIPTION_ATTRIBUTE)


def has_evergreen_lines(lines: Sequence[OrderItemView]) -> bool:
    """Whether any recurring line is evergreen (no Data Error for a mix: ``is_evergreen``)."""
    return any(is_evergreen_line(line) for line in lines if line.recurring)


def is_evergreen_line(item: OrderItemView) -> bool:
    return (item.subscription_type or "").strip().lower() == EVERGREEN


def is_evergreen(lines: Sequence[OrderItemView]) -> bool:
    """Whether the order's recurring lines are evergreen; a mix is a Data Error (A4)."""
    recurring = [line for line in lines if line.recurring]
    evergreen = [line.id for line in recurring if is_evergreen_line(line)]
    if not evergreen:
        return False
    renewable = [line.id for line in recurring if not is_evergreen_line(line)]
    if renewable:
        raise DataError(
            "A4",
            f"{MIXED} Evergreen lines: {', '.join(evergreen)}; renewable lines: "
            f"{', '.join(renewable)}. Sell them on separate orders.",
        )
    return True


def make_evergreen(
    schedule: dict[str, Any], quote: QuoteView, lines: Sequence[OrderItemView]
) -> None:
    """Turn the order's schedule parameters into an evergreen subscription's (A4)."""
    # Each term as the record holds it (for the message), and in whole months.
    terms = {
        "SBQQ__Quote__r.SBQQ__SubscriptionTerm__c": (
            quote.field("SBQQ__SubscriptionTerm__c"),
            quote.term_months,
        )
    }
    for line in lines:
        shown = line.field("SBQQ__DefaultSubscriptionTerm__c")
        if shown not in (None, ""):
            terms[f"OrderItem[{line.id}].SBQQ__DefaultSubscriptionTerm__c"] = (
                shown,
                whole_months(shown),
            )
    wrong = [f"{name} = {shown}" for name, (shown, months) in terms.items() if months != 1]
    if wrong:
        raise DataError("A4", f"{TERM_OF_ONE} Found {'; '.join(wrong)}")
    settings = schedule.setdefault("default_settings", {})
    invoice_settings = settings.setdefault("invoice_settings", {})
    if invoice_settings.get("days_until_due") is None:
        raise DataError(
            "A4",
            "The following required fields are missing: SBQQ__PaymentTerm__c (an evergreen "
            "subscription is invoiced, and Stripe needs days_until_due to send its invoices; "
            "set the order's or quote's payment term, or map "
            "subscription_schedule.default_settings.invoice_settings.days_until_due)",
        )
    settings["collection_method"] = "send_invoice"
    schedule["end_behavior"] = "release"
