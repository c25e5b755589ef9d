"""Consumption schedules to Stripe tiers (rule P8).

Pricebook entries carry the product's standard ConsumptionSchedule (through the
ProductConsumptionSchedule junction); an order line carries CPQ's own copy
(SBQQ__OrderItemConsumptionSchedule__c). Both read the same way once their field names are
aligned: Range is Stripe's `volume` mode, Slab its `graduated` mode; a rate's upper bound is the
tier's `up_to` and an empty one the unbounded last tier.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from consumer.sync.mapping.data_error import DataError
from consumer.sync.planning.amounts import minor_units
from consumer.sync.planning.views import RateView, ScheduleView
from cpqsync.mapping.coercion import CoercionError

_MODES = {"range": "volume", "slab": "graduated"}


@dataclass(frozen=True)
class Tiers:
    """``schedule_id``: the consumption schedule the tiers came from (its metadata key, K1)."""

    mode: str
    tiers: list[dict[str, Any]]
    schedule_id: str | None = None


def tiers_from(schedules: tuple[ScheduleView, ...], currency: str, *, where: str) -> Tiers | None:
    """The Stripe tiers of a line or entry, or None when it has no consumption schedule."""
    if not schedules:
        return None
    if len(schedules) > 1:
        raise DataError(
            "P8", f"{where} has {len(schedules)} consumption schedules; a Stripe price takes one"
        )
    schedule = schedules[0]
    rating = schedule.rating_method
    if (rating or "").lower() != "tier":
        raise DataError(
            "P8", f"Consumption schedule rating method must be Tier on {where}: {rating}"
        )
    mode = _MODES.get((schedule.type or "").lower())
    if mode is None:
        raise DataError(
            "P8", f"Consumption schedule type must be Range or Slab on {where}: {schedule.type}"
        )
    if not schedule.rates:
        raise DataError("P8", f"The consumption schedule on {where} has no consumption rates")
    rates = sorted(schedule.rates, key=lambda r: (_lower_bound(r, where), r.processing_order))
    tiers = []
    for index, rate in enumerate(rates):
        last = index == len(rates) - 1
        tiers.append(_tier(rate, currency, last=last, where=where))
    return Tiers(mode, tiers, schedule.schedule_id)


def _not_a_number(rate: RateView, field: str, where: str) -> DataError:
    return DataError(
        "P8", f"Consumption rate bound is not a number on {where}: {rate.field(field)}"
    )


def _lower_bound(rate: RateView, where: str) -> Decimal:
    try:
        return rate.lower_bound
    except CoercionError:
        raise _not_a_number(rate, rate.names.lower, where) from None


def _tier(rate: RateView, currency: str, *, last: bool, where: str) -> dict[str, Any]:
    upper = rate.field(rate.names.upper)
    tier: dict[str, Any] = {}
    if not rate.bounded:
        if not last:
            raise DataError(
                "P8", f"Only the last consumption rate may have no upper bound on {where}"
            )
        tier["up_to"] = "inf"
    else:
        if last:
            raise DataError(
                "P8",
                f"The last consumption rate must have no upper bound on {where} "
                "(Stripe's last tier covers every quantity above the others)",
            )
        try:
            bound = rate.upper_bound
        except CoercionError:
            raise _not_a_number(rate, rate.names.upper, where) from None
        if bound != bound.to_integral_value():
            raise DataError("P8", f"Consumption rate upper bound is not whole on {where}: {upper}")
        tier["up_to"] = int(bound)
    try:
        amount = rate.price
    except CoercionError:
        raise DataError(
            "P8", f"Consumption rate price is missing or not a number on {where}"
        ) from None
    method = (rate.pricing_method or "").lower()
    if method == "perunit":
        tier["unit_amount_decimal"] = minor_units(amount, currency)
    elif method == "flatfee":
        tier["flat_amount_decimal"] = minor_units(amount, currency)
    else:
        raise DataError(
            "P8",
            f"Consumption rate pricing method must be PerUnit or FlatFee on {where}: "
            f"{rate.pricing_method}",
        )
    return tier
