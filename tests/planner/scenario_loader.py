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
    ContractOrders,
    KnownCustomer,
    KnownPhase,
    KnownPrice,
    KnownSchedule,
    KnownStripeObjects,
    Plan,
    PlanningContext,
    plan_account,
    plan_contract,
    plan_order,
    plan_pricebook_entry,
    plan_product,
)
from consumer.sync.planning.views import AccountView, EntryView, OrderView, ProductView
from cpqsync.settings import Settings

SCENARIOS = Path(__file__).parents[1] / "scenarios"
# A scenario's `plan:` (default order) names the entry point it runs.
PLANNERS = {
    "order": (plan_order, OrderView.of),
    "account": (plan_account, AccountView.of),
    "product": (plan_product, ProductView.of),
    "pricebook_entry": (plan_pricebook_entry, EntryView.of),
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
    kind = "order" if kind == "contract" else kind
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
        waited_for=frozenset(ctx["waited_for"]) if "waited_for" in ctx else None,
        known=KnownStripeObjects(
            customers={k: KnownCustomer(**v) for k, v in (known.get("customers") or {}).items()},
            products=dict(known.get("products") or {}),
            prices={k: KnownPrice(**v) for k, v in (known.get("prices") or {}).items()},
            line_prices={k: KnownPrice(**v) for k, v in (known.get("line_prices") or {}).items()},
            meters=dict(known.get("meters") or {}),
            schedules=dict(known.get("schedules") or {}),
            missing=dict(known.get("missing") or {}),
            contract_schedules={
                k: _known_schedule(v) for k, v in (known.get("contract_schedules") or {}).items()
            },
            coupons=dict(known.get("coupons") or {}),
        ),
    )


def _known_schedule(spec: dict[str, Any]) -> KnownSchedule:
    return KnownSchedule(
        id=spec["id"],
        status=spec.get("status", "active"),
        phases=tuple(KnownPhase(**phase) for phase in spec.get("phases") or ()),
        subscription=spec.get("subscription"),
    )


def amendment_line_id(k: int, j: int) -> str:
    """Line ``j`` of amendment ``k`` (both from 1)."""
    return _sfid("802", 100 * k + j)


def amendment_order_id(k: int) -> str:
    return _sfid("801", 1 + k)


def _revised(value: Any) -> str:
    """``revises: 2`` names the initial order's line 2; ``revises: "1.3"`` amendment 1's line 3."""
    if isinstance(value, int):
        return _sfid("802", value)
    k, j = (int(part) for part in str(value).split("."))
    return amendment_line_id(k, j)


def _months_between(start: dt.date, end: dt.date) -> float:
    months = (end.year - start.year) * 12 + end.month - start.month
    days = end.day - start.day
    if days < 0:
        months, days = months - 1, days + 30
    return months + days / 30


def build_contract(scenario: dict[str, Any]) -> tuple[ContractOrders, str]:
    """The contract's orders and the id of the one being synced.

    Each amendment states ``start`` (and optionally ``end``, by default the contract's last day)
    and its lines' quantity CHANGES. A line's ``UnitPrice`` is stated for the whole term, as on
    the initial order; like CPQ, the record holds it prorated to the rest of the contract
    (``SBQQ__ProrateMultiplier__c`` = remaining months / term).
    """
    d = defaults()
    initial = build_record(scenario)
    quote = initial["SBQQ__Quote__r"]
    term = int(quote["SBQQ__SubscriptionTerm__c"])
    first = dt.date.fromisoformat(quote["SBQQ__StartDate__c"])
    last_day = dt.date.fromordinal(
        dt.date(
            first.year + (first.month - 1 + term) // 12, (first.month - 1 + term) % 12 + 1, 1
        ).toordinal()
        - 1
    )
    amendments = []
    for k, spec in enumerate(scenario.get("amendments") or [], start=1):
        start = dt.date.fromisoformat(str(spec["start"]))
        end = str(spec.get("end", last_day.isoformat()))
        multiplier = round(_months_between(start, last_day + dt.timedelta(days=1)) / term, 6)
        order = merge(
            d["order"],
            {
                "Id": amendment_order_id(k),
                "Type": "Amendment",
                "EffectiveDate": start.isoformat(),
                "ActivatedDate": f"{start.isoformat()}T09:00:00.000+0000",
                "SBQQ__Quote__c": _sfid("a0Q", 1 + k),
                "SBQQ__Quote__r": {
                    "Id": _sfid("a0Q", 1 + k),
                    "SBQQ__Type__c": "Amendment",
                    "SBQQ__StartDate__c": start.isoformat(),
                    "SBQQ__EndDate__c": end,
                },
            },
        )
        order = merge(order, spec.get("order") or {})
        order["Account"] = initial["Account"]
        lines = []
        for j, line_spec in enumerate(spec.get("lines") or [], start=1):
            line_spec = dict(line_spec)
            revises = line_spec.pop("revises", None)
            line = build_line(d, line_spec, 100 * k + j)
            line["Id"] = amendment_line_id(k, j)
            line["SBQQ__ProrateMultiplier__c"] = multiplier
            line["UnitPrice"] = round(float(line["UnitPrice"]) * multiplier, 2)
            if revises is not None:
                line["SBQQ__RevisedOrderProduct__c"] = _revised(revises)
            lines.append(line)
        order["OrderItems"] = _relationship(lines)
        amendments.append(order)
    orders = ContractOrders(OrderView.of(initial), tuple(OrderView.of(a) for a in amendments))
    synced = scenario.get("sync", f"amendment:{len(amendments)}" if amendments else "initial")
    root = initial["Id"] if synced == "initial" else amendment_order_id(int(synced.split(":")[1]))
    return orders, root


def plan_scenario(scenario: dict[str, Any]) -> Plan:
    """The plan a (configuration-valid) scenario produces."""
    context = build_context(scenario, build_settings(scenario))
    if scenario.get("plan") == "contract":
        orders, root = build_contract(scenario)
        return plan_contract(orders, order_id=root, context=context)
    planner, view = PLANNERS[scenario.get("plan", "order")]
    return planner(view(build_record(scenario)), context=context)
