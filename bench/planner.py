"""Planner throughput: plans per second for a 20-line order on one core.

Planning must never be the bottleneck beside Stripe's 100 requests/s, so the target is 2,000
plans/s. Three shapes of the same 20-line order are timed side by side, in CPU-seconds of this
process (the machine is shared) and as ratios to the target: *steady* (customer, products and
pricebook prices already in Stripe: the usual re-sync), *cold* (everything new: 20 products
and prices to create) and *line prices* (every line differs from its pricebook entry: 20 line
prices plus their archives).

    python bench/planner.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from consumer.sync.planning import PlanningContext, plan_order
from cpqsync.settings import Settings

TARGET = 2_000.0
LINES = 20


def _order(*, known: bool, line_prices: bool) -> dict[str, Any]:
    items = []
    for n in range(1, LINES + 1):
        product_id = f"01t{n:012d}AAA"
        items.append(
            {
                "Id": f"802{n:012d}AAA",
                "Quantity": float(n),
                "UnitPrice": 1440.0 if line_prices else 1200.0,
                "SBQQ__SubscriptionPricing__c": "Fixed Price",
                "SBQQ__BillingFrequency__c": "Monthly",
                "SBQQ__BillingType__c": "Advance",
                "Skip_Line_Item__c": False,
                "Stripe_ID__c": None,
                "Product2": {
                    "Id": product_id,
                    "Name": f"Product {n}",
                    "SBQQ__SubscriptionPricing__c": "Fixed Price",
                    "SBQQ__BillingFrequency__c": "Monthly",
                    "SBQQ__BillingType__c": "Advance",
                    "Stripe_ID__c": f"sf_{product_id}" if known else None,
                },
                "PricebookEntry": {
                    "Id": f"01u{n:012d}AAA",
                    "UnitPrice": 100.0,
                    "Stripe_ID__c": f"price_{n}" if known else None,
                },
            }
        )
    return {
        "Id": "801000000000001AAA",
        "Status": "Activated",
        "ActivatedDate": "2026-03-01T10:00:00.000+0000",
        "SBQQ__Quote__c": "a0Q000000000001AAA",
        "SBQQ__PaymentTerm__c": "Net 30",
        "Stripe_ID__c": None,
        "Account": {
            "Id": "001000000000001AAA",
            "Name": "Acme Corporation",
            "Phone": "+1 415 555 0100",
            "BillingStreet": "1 Market Street",
            "BillingCity": "San Francisco",
            "BillingPostalCode": "94105",
            "BillingCountry": "US",
            "Stripe_ID__c": "cus_1" if known else None,
        },
        "SBQQ__Quote__r": {"SBQQ__StartDate__c": "2026-04-01", "SBQQ__SubscriptionTerm__c": 12},
        "OrderItems": {"records": items},
    }


def _rate(order: dict[str, Any], context: PlanningContext, seconds: float) -> tuple[float, int]:
    plan = plan_order(order, context=context)
    assert plan.status == "ready", plan.errors
    count = 0
    # CPU time of this process: other work on a shared machine does not count against us.
    start = time.process_time()
    deadline = start + seconds
    while time.process_time() < deadline:
        for _ in range(50):
            plan_order(order, context=context)
        count += 50
    return count / (time.process_time() - start), len(plan.operations)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    context = PlanningContext(
        settings=Settings(
            mappings={"customer": {"custom": {"metadata.owner": "Account.Owner.Email"}}}
        ),
        now=dt.datetime(2026, 3, 10, tzinfo=dt.UTC),
    )
    shapes = {
        "steady (all known)": _order(known=True, line_prices=False),
        "cold (all new)": _order(known=False, line_prices=False),
        "line prices": _order(known=False, line_prices=True),
    }
    print(f"planner, {LINES}-line order, one core, target {TARGET:,.0f} plans/s")
    print(f"{'shape':<20} {'ops':>4} {'plans/s':>10} {'x target':>9} {'ms/plan':>8}")
    for name, order in shapes.items():
        rate, ops = _rate(order, context, args.seconds)
        print(f"{name:<20} {ops:>4} {rate:>10,.0f} {rate / TARGET:>9.2f} {1000 / rate:>8.3f}")


if __name__ == "__main__":
    main()
