"""Renewals (rule A3): a renewal order starts a contract of its own.

CPQ renews a contract with a new Opportunity (``SBQQ__RenewedContract__c`` = the old contract),
a primary quote of ``SBQQ__Type__c = Renewal`` starting the day after the old contract ends, and
an order of ``Type = Renewal``; contracting that order creates a new Contract whose
``SBQQ__Order__c`` is the renewal order. So a renewal is billed like any initial order (O2): a
schedule of its own keyed by its own order id, never a phase of the renewed contract's schedule.

``end_behavior`` stays ``cancel`` (the term ends, and the next renewal order bills the next
term); a field default or custom mapping of ``subscription_schedule.end_behavior`` to ``release``
keeps the subscription running after the last phase instead (auto-renew in Stripe). With
``release``, Stripe renews by itself: do not also sync CPQ's renewal orders for those contracts
(exclude them with an Order sync filter such as ``Type != 'Renewal'``), or both would bill.
"""

from __future__ import annotations

from consumer.sync.planning.views import OrderView

RENEWAL = "Renewal"


def is_renewal(order: OrderView) -> bool:
    """An order of a renewal quote (or typed Renewal by CPQ): the start of its own contract."""
    return order.quote.quote_type == RENEWAL or order.order_type == RENEWAL
