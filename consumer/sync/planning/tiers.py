"""Consumption schedules to Stripe tiers (rule P8).

Pricebook entries carry the product's standard ConsumptionSchedule (through the
ProductConsumptionSchedule junction); an order line carries CPQ's own copy
(SBQQ__OrderItemConsumptionSchedule__c). Both read the same way once their field names are
aligned: Range is Stripe's `volume` mode, Slab its `graduated` mode; a rate's upper bound is the
tier's `up_to` and an empty one the unbounded last tier.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from consumer.sync.mapping.data_error import DataError
from consumer.sync.planning.amounts import minor_units
from cpqsync.mapping.coercion import CoercionError, to_decimal

_MODES = {"range": "volume", "slab": "graduated"}


@dataclass(frozen=True)
class _Names:
    """Field names of one flavour of consumption schedule."""

    rates: str
    type: str
    rating_method: str
    lower: str
    upper: str
    method: str
    price: str
    order: str


STANDARD = _Names(
    "ConsumptionRates", "Type", "RatingMethod",
    "LowerBound", "UpperBound", "PricingMethod", "Price", "ProcessingOrder",
)  # fmt: skip
ORDER_LINE = _Names(
    "SBQQ__OrderItemConsumptionRates__r", "SBQQ__Type__c", "SBQQ__RatingMethod__c",
    "SBQQ__LowerBound__c", "SBQQ__UpperBound__c", "SBQQ__PricingMethod__c", "SBQQ__Price__c",
    "SBQQ__ProcessingOrder__c",
)  # fmt: skip


@dataclass(frozen=True)
class Tiers:
    """``schedule_id``: the consumption schedule the tiers came from (its metadata key, K1)."""

    mode: str
    tiers: list[dict[str, Any]]
    schedule_id: str | None = None


def _records(relationship: Any) -> list[Mapping[str, Any]]:
    if not relationship:
        return []  # most lines and products have no consumption schedule
    if isinstance(relationship, dict):
        records = relationship.get("records")
        if isinstance(records, list):
            return [r for r in records if isinstance(r, dict)]
    return []


def product_schedules(product: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    out: list[Mapping[str, Any]] = []
    for link in _records(product.get("ProductConsumptionSchedules")):
        schedule = link.get("ConsumptionSchedule")
        if isinstance(schedule, dict):
            out.append(schedule)
    return out


def line_schedules(item: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return _records(item.get("SBQQ__OrderItemConsumptionSchedules__r"))


def tiers_from(
    schedules: list[Mapping[str, Any]], names: _Names, currency: str, *, where: str
) -> Tiers | None:
    """The Stripe tiers of a line or entry, or None when it has no consumption schedule."""
    if not schedules:
        return None
    if len(schedules) > 1:
        raise DataError(
            "P8", f"{where} has {len(schedules)} consumption schedules; a Stripe price takes one"
        )
    schedule = schedules[0]
    rating = schedule.get(names.rating_method)
    if str(rating or "").lower() != "tier":
        raise DataError(
            "P8", f"Consumption schedule rating method must be Tier on {where}: {rating}"
        )
    mode = _MODES.get(str(schedule.get(names.type) or "").lower())
    if mode is None:
        raise DataError(
            "P8",
            f"Consumption schedule type must be Range or Slab on {where}: "
            f"{schedule.get(names.type)}",
        )
    rates = _records(schedule.get(names.rates))
    if not rates:
        raise DataError("P8", f"The consumption schedule on {where} has no consumption rates")
    rates = sorted(rates, key=lambda r: (_number(r.get(names.lower), where), _order(r, names)))
    tiers = []
    for index, rate in enumerate(rates):
        last = index == len(rates) - 1
        tiers.append(_tier(rate, names, currency, last=last, where=where))
    schedule_id = schedule.get("Id")
    return Tiers(mode, tiers, str(schedule_id) if schedule_id else None)


def _order(rate: Mapping[str, Any], names: _Names) -> Any:
    value = rate.get(names.order)
    return value if isinstance(value, int | float) else 0


def _number(value: Any, where: str) -> Any:
    try:
        return to_decimal(value if value is not None else 0)
    except CoercionError:
        raise DataError(
            "P8", f"Consumption rate bound is not a number on {where}: {value}"
        ) from None


def _tier(
    rate: Mapping[str, Any], names: _Names, currency: str, *, last: bool, where: str
) -> dict[str, Any]:
    upper = rate.get(names.upper)
    tier: dict[str, Any] = {}
    if upper is None or upper == "":
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
        bound = _number(upper, where)
        if bound != bound.to_integral_value():
            raise DataError("P8", f"Consumption rate upper bound is not whole on {where}: {upper}")
        tier["up_to"] = int(bound)
    try:
        amount = to_decimal(rate.get(names.price))
    except CoercionError:
        raise DataError(
            "P8", f"Consumption rate price is missing or not a number on {where}"
        ) from None
    method = str(rate.get(names.method) or "").lower()
    if method == "perunit":
        tier["unit_amount_decimal"] = minor_units(amount, currency)
    elif method == "flatfee":
        tier["flat_amount_decimal"] = minor_units(amount, currency)
    else:
        raise DataError(
            "P8",
            f"Consumption rate pricing method must be PerUnit or FlatFee on {where}: "
            f"{rate.get(names.method)}",
        )
    return tier
