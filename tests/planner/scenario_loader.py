"""Reads a YAML golden scenario into hydrated records, settings and a planning context.

Scenarios stay short because they only state what differs from `tests/scenarios/_defaults.yaml`
(deep-merged); lines, products, entries and consumption schedules are expanded here into the
REST shape hydration produces.
"""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import yaml

from consumer.sync.planning import (
    KnownCustomer,
    KnownPrice,
    KnownStripeObjects,
    Plan,
    PlanningContext,
    plan_account,
    plan_order,
    plan_pricebook_entry,
    plan_product,
)
from cpqsync.settings import Settings

SCENARIOS = Path(__file__).parents[1] / "scenarios"
# A scenario's `plan:` (default order) names the entry point it runs.
PLANNERS = {
    "order": plan_order,
    "account": plan_account,
    "product": plan_product,
    "pricebook_entry": plan_pricebook_entry,
}


def merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = merge(base.get(key), value) if key in base else copy.deepcopy(value)
        return out
    return copy.deepcopy(over)


def defaults() -> dict[str, Any]:
    return yaml.safe_load((SCENARIOS / "_defaults.yaml").read_text())


def scenario_paths() -> list[Path]:
    return sorted(p for p in SCENARIOS.glob("*.yaml") if not p.name.startswith("_"))


def _sfid(prefix: str, n: int) -> str:
    return f"{prefix}{n:012d}AAA"


def _relationship(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"totalSize": len(records), "done": True, "records": records}


def line_schedule(spec: dict[str, Any], n: int) -> dict[str, Any]:
    """Compact tiers (``[lower, upper, method, price]``) as CPQ order-line consumption records."""
    rates = [
        {
            "SBQQ__ProcessingOrder__c": i,
            "SBQQ__LowerBound__c": lower,
            "SBQQ__UpperBound__c": upper,
            "SBQQ__PricingMethod__c": method,
            "SBQQ__Price__c": price,
        }
        for i, (lower, upper, method, price) in enumerate(spec["rates"])
    ]
    return {
        "Id": spec.get("id", _sfid("a1C", n)),
        "SBQQ__Type__c": spec.get("type", "Range"),
        "SBQQ__RatingMethod__c": spec.get("rating_method", "Tier"),
        "SBQQ__OrderItemConsumptionRates__r": _relationship(rates),
    }


def product_schedule(spec: dict[str, Any], n: int) -> dict[str, Any]:
    rates = [
        {
            "ProcessingOrder": i,
            "LowerBound": lower,
            "UpperBound": upper,
            "PricingMethod": method,
            "Price": price,
        }
        for i, (lower, upper, method, price) in enumerate(spec["rates"])
    ]
    return {
        "ConsumptionSchedule": {
            "Id": spec.get("id", _sfid("0sc", n)),
            "Type": spec.get("type", "Range"),
            "RatingMethod": spec.get("rating_method", "Tier"),
            "ConsumptionRates": _relationship(rates),
        }
    }


def build_product(base: dict[str, Any], spec: dict[str, Any] | None, n: int) -> dict[str, Any]:
    product = merge(base, spec or {})
    product.setdefault("Id", _sfid("01t", n))
    tiers = product.pop("tiers", None)
    if tiers is not None:
        product["ProductConsumptionSchedules"] = _relationship([product_schedule(tiers, n)])
    return product


def build_line(d: dict[str, Any], spec: dict[str, Any], n: int) -> dict[str, Any]:
    spec = dict(spec)
    product = build_product(d["product"], spec.pop("product", None), n)
    entry = merge(d["entry"], spec.pop("entry", None) or {})
    entry.setdefault("Id", _sfid("01u", n))
    entry["Product2Id"] = product["Id"]
    tiers = spec.pop("tiers", None)
    line = merge(d["line"], spec)
    line.setdefault("Id", _sfid("802", n))
    line.update(
        Product2Id=product["Id"],
        Product2=product,
        PricebookEntryId=entry["Id"],
        PricebookEntry=entry,
    )
    if tiers is not None:
        line["SBQQ__OrderItemConsumptionSchedules__r"] = _relationship([line_schedule(tiers, n)])
    return line


def build_record(scenario: dict[str, Any]) -> dict[str, Any]:
    d = defaults()
    kind = scenario.get("plan", "order")
    account = merge(d["account"], scenario.get("account") or {})
    if kind == "account":
        return account
    if kind == "product":
        return build_product(d["product"], scenario.get("product"), 1)
    if kind == "pricebook_entry":
        product = build_product(d["product"], scenario.get("product"), 1)
        entry = merge(d["entry"], scenario.get("entry") or {})
        entry.setdefault("Id", _sfid("01u", 1))
        entry.update(Product2Id=product["Id"], Product2=product)
        return entry
    order = merge(d["order"], scenario.get("order") or {})
    order["Account"] = account
    lines = [build_line(d, spec, n) for n, spec in enumerate(scenario.get("lines", []), start=1)]
    order["OrderItems"] = _relationship(lines)
    return order


def build_settings(scenario: dict[str, Any]) -> Settings:
    return Settings(**(scenario.get("config") or {}))


def build_context(scenario: dict[str, Any], settings: Settings) -> PlanningContext:
    ctx = scenario.get("context") or {}
    known = ctx.get("known") or {}
    now = dt.datetime.fromisoformat(str(ctx.get("now", defaults()["now"])))
    return PlanningContext(
        settings=settings,
        now=now,
        sandbox=bool(ctx.get("sandbox", False)),
        trigger=ctx.get("trigger", "live"),
        salesforce_instance_url=ctx.get("salesforce_instance_url"),
        known=KnownStripeObjects(
            customers={k: KnownCustomer(**v) for k, v in (known.get("customers") or {}).items()},
            products=dict(known.get("products") or {}),
            prices={k: KnownPrice(**v) for k, v in (known.get("prices") or {}).items()},
            line_prices={k: KnownPrice(**v) for k, v in (known.get("line_prices") or {}).items()},
            meters=dict(known.get("meters") or {}),
            schedules=dict(known.get("schedules") or {}),
            missing=dict(known.get("missing") or {}),
        ),
    )


def plan_scenario(scenario: dict[str, Any]) -> Plan:
    """The plan a (configuration-valid) scenario produces."""
    context = build_context(scenario, build_settings(scenario))
    return PLANNERS[scenario.get("plan", "order")](build_record(scenario), context=context)
