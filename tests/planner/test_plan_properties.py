"""Properties of plans for random valid orders.

Every operation's parameters validate against the `stripe.params` TypedDict of its endpoint,
every amount is an exact minor-unit decimal string, placeholders only point backwards, and
planning is deterministic (same input, same plan and keys).
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumer.sync.planning import Plan, PlanningContext, is_ref, plan_order
from consumer.sync.planning.views import OrderView
from cpqsync.mapping import stripe_validation
from cpqsync.mapping.stripe_schema import ENDPOINT_PARAMS
from cpqsync.settings import Settings

NOW = dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC)
CANONICAL_DECIMAL = re.compile(r"^(0|[1-9]\d*)(\.\d{0,11}[1-9])?$")
FREQUENCIES = {"Monthly": 1, "Quarterly": 3, "Semiannual": 6, "Annual": 12}
EXPONENT = {"USD": 2, "EUR": 2, "JPY": 0}
PAYMENT_TERMS = [None, "Net 15", "Net-30", "45", "60.0", 90]

prices = st.decimals(
    min_value=0, max_value=250_000, places=6, allow_nan=False, allow_infinity=False
)


def _sfid(prefix: str, n: int) -> str:
    return f"{prefix}{n:012d}AAA"


@st.composite
def tiers(draw: st.DrawFn) -> dict[str, Any]:
    bounds = sorted(draw(st.sets(st.integers(1, 10_000), min_size=0, max_size=3)))
    lowers = [0, *bounds]
    uppers = [*bounds, None]
    rates = [
        {
            "SBQQ__LowerBound__c": lower,
            "SBQQ__UpperBound__c": upper,
            "SBQQ__PricingMethod__c": draw(st.sampled_from(["PerUnit", "FlatFee"])),
            "SBQQ__Price__c": float(draw(prices)),
        }
        for lower, upper in zip(lowers, uppers, strict=True)
    ]
    return {
        "SBQQ__Type__c": draw(st.sampled_from(["Range", "Slab"])),
        "SBQQ__RatingMethod__c": "Tier",
        "SBQQ__OrderItemConsumptionRates__r": {"records": rates},
    }


@st.composite
def orders(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    currency = draw(st.sampled_from(sorted(EXPONENT)))
    term = draw(st.sampled_from([12, 24, 36]))
    frequency = draw(st.sampled_from(sorted(FREQUENCIES)))
    start = draw(st.dates(dt.date(2025, 1, 1), dt.date(2027, 12, 31)))
    lines = []
    for n in range(1, draw(st.integers(1, 8)) + 1):
        recurring = draw(st.booleans())
        arrears = recurring and draw(st.booleans())
        product_n = draw(st.integers(1, 3))  # lines may share a product
        unit_price = draw(prices)
        line: dict[str, Any] = {
            "Id": _sfid("802", n),
            "Quantity": 1.0 if arrears else float(draw(st.integers(1, 50))),
            "UnitPrice": float(unit_price),
            "SBQQ__SubscriptionPricing__c": "Fixed Price" if recurring else None,
            "SBQQ__BillingFrequency__c": frequency if recurring else None,
            "SBQQ__BillingType__c": "Arrears" if arrears else "Advance",
            "Skip_Line_Item__c": draw(st.booleans()) and n > 1,
            "Product2": {
                "Id": _sfid("01t", product_n),
                "Name": f"Product {product_n}",
                "SBQQ__SubscriptionPricing__c": "Fixed Price" if recurring else None,
                "SBQQ__BillingFrequency__c": frequency,
                "SBQQ__BillingType__c": "Arrears" if arrears else "Advance",
                "Stripe_ID__c": draw(st.sampled_from([None, f"sf_{_sfid('01t', product_n)}"])),
            },
            "PricebookEntry": {
                "Id": _sfid("01u", n),
                "UnitPrice": float(draw(st.sampled_from([unit_price, draw(prices)]))),
                "CurrencyIsoCode": currency,
                "Stripe_ID__c": draw(st.sampled_from([None, f"price_{n}"])),
            },
        }
        if recurring and draw(st.integers(0, 4)) == 0:
            line["SBQQ__OrderItemConsumptionSchedules__r"] = {"records": [draw(tiers())]}
        lines.append(line)
    order = {
        "Id": _sfid("801", 1),
        "Status": "Activated",
        "ActivatedDate": "2026-03-01T10:00:00.000+0000",
        "CurrencyIsoCode": currency,
        "SBQQ__Quote__c": _sfid("a0Q", 1),
        "SBQQ__PaymentTerm__c": draw(st.sampled_from(PAYMENT_TERMS)),
        "Skip_Past_Initial_Invoices__c": draw(st.booleans()),
        "Stripe_ID__c": draw(st.sampled_from([None, "sub_sched_1"])),
        "Account": {
            "Id": _sfid("001", 1),
            "Name": draw(st.text(min_size=1, max_size=40).filter(str.strip)),
            "Description": draw(st.one_of(st.none(), st.text(max_size=500))),
            "ShippingCity": draw(st.sampled_from([None, "Oakland"])),
            "Phone": draw(st.sampled_from([None, "+1 415 555 0100 extension 999"])),
            "Stripe_ID__c": draw(st.sampled_from([None, "cus_1", "junk"])),
        },
        "SBQQ__Quote__r": {
            "SBQQ__StartDate__c": start.isoformat(),
            "SBQQ__SubscriptionTerm__c": term,
        },
        "OrderItems": {"records": lines},
    }
    return order, currency


def _context(sandbox: bool) -> PlanningContext:
    settings = Settings(sync={"multi_currency": True})
    return PlanningContext(settings=settings, now=NOW, sandbox=sandbox)


def _amounts(value: Any, found: list[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("unit_amount_decimal", "flat_amount_decimal"):
                found.append(item)
            else:
                _amounts(item, found)
    elif isinstance(value, list):
        for item in value:
            _amounts(item, found)


def _refs(value: Any, found: list[str]) -> None:
    if is_ref(value):
        found.append(value["$ref"].rpartition(".")[0])
    elif isinstance(value, dict):
        for item in value.values():
            _refs(item, found)
    elif isinstance(value, list):
        for item in value:
            _refs(item, found)


def _expected_line_amount(line: dict[str, Any], currency: str, term: int) -> str:
    scaled = decimal.Decimal(repr(line["UnitPrice"])).scaleb(EXPONENT[currency])
    if line["SBQQ__SubscriptionPricing__c"]:
        count = FREQUENCIES[line["SBQQ__BillingFrequency__c"]]
        with decimal.localcontext() as ctx:
            ctx.prec = 60
            ctx.rounding = decimal.ROUND_HALF_UP
            scaled = (scaled * count / term).quantize(decimal.Decimal("1e-12"))
    text = f"{scaled:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(orders(), st.booleans())
def test_plans_for_random_orders_are_valid_exact_and_deterministic(
    drawn: tuple[dict[str, Any], str], sandbox: bool
) -> None:
    order, currency = drawn
    context = _context(sandbox)
    plan = plan_order(OrderView.of(order), context=context)
    assert plan.status == "ready", plan.errors

    seen: set[str] = set()
    for op in plan.operations:
        assert stripe_validation.problems(ENDPOINT_PARAMS[op.kind], op.params) == [], op.id
        refs: list[str] = []
        _refs({"params": op.params, "target": op.target}, refs)
        assert set(refs) <= seen, f"{op.id} refers forward: {refs}"
        seen.add(op.id)
        amounts: list[str] = []
        _amounts(op.params, amounts)
        for amount in amounts:
            assert isinstance(amount, str) and CANONICAL_DECIMAL.match(amount), amount
        assert len(op.idempotency_key) <= 255

    term = order["SBQQ__Quote__r"]["SBQQ__SubscriptionTerm__c"]
    for op in plan.operations:
        if op.id.startswith("price:line:") and "tiers" not in op.params:
            item_id = op.id.rpartition(":")[2]
            line = next(x for x in order["OrderItems"]["records"] if x["Id"] == item_id)
            assert op.params["unit_amount_decimal"] == _expected_line_amount(line, currency, term)

    keys = [op.idempotency_key for op in plan.operations]
    assert len(set(keys)) == len(keys)
    again = plan_order(OrderView.of(order), context=_context(sandbox))
    assert again.to_json() == plan.to_json()
    assert Plan.from_json(plan.to_json()) == plan
