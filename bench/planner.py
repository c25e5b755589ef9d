"""Planner throughput: plans per second for a 20-line order on one core.

Planning must never be the bottleneck beside Stripe's 100 requests/s, so the target is 2,000
plans/s. Three shapes of the same 20-line order are timed, in CPU-seconds of this process (the
machine is shared) and as ratios to the target: *steady* (customer, products and pricebook
prices already in Stripe: the usual re-sync), *cold* (everything new: 20 products and prices
to create) and *line prices* (every line differs from its pricebook entry: 20 line prices plus
their archives).

``--against REV`` also times the planner as it was at git revision REV, side by side in the same
run (alternating rounds, best of each), and checks that both give byte-identical plans: a
speed-up that changed an idempotency key would make replays create duplicates in Stripe.

    python bench/planner.py [--seconds 2] [--against REV] [--rounds 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGET = 2_000.0
LINES = 20
SHAPES = {
    "steady (all known)": {"known": True, "line_prices": False},
    "cold (all new)": {"known": False, "line_prices": False},
    "line prices": {"known": False, "line_prices": True},
}


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


def measure(seconds: float) -> dict[str, dict[str, Any]]:
    """Rate, operation count and plan hash per shape, for the planner importable right now."""
    from consumer.sync.planning import PlanningContext, plan_order
    from cpqsync.settings import Settings

    context = PlanningContext(
        settings=Settings(
            mappings={"customer": {"custom": {"metadata.owner": "Account.Owner.Email"}}}
        ),
        now=dt.datetime(2026, 3, 10, tzinfo=dt.UTC),
    )
    out: dict[str, dict[str, Any]] = {}
    for name, shape in SHAPES.items():
        order = _order(**shape)
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
        out[name] = {
            "rate": count / (time.process_time() - start),
            "ops": len(plan.operations),
            "plan_sha256": hashlib.sha256(plan.to_json().encode()).hexdigest(),
        }
    return out


def _extract(revision: str, into: Path) -> None:
    """The importable packages as they were at ``revision`` (the planner and its settings)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", revision, "consumer", "cpqsync"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")


def _measure_elsewhere(source: Path, seconds: float) -> dict[str, dict[str, Any]]:
    result = subprocess.run(
        [sys.executable, __file__, "--json", "--source", str(source), "--seconds", str(seconds)],
        check=True,
        capture_output=True,
        text=True,
        cwd=source,
    )
    data: dict[str, dict[str, Any]] = json.loads(result.stdout)
    return data


def _best(runs: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    return {name: max((run[name] for run in runs), key=lambda r: r["rate"]) for name in SHAPES}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--against", metavar="REV", help="also time the planner at this revision")
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds (best kept)")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--source", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(args.source))
    if args.json:
        print(json.dumps(measure(args.seconds)))
        return

    print(f"planner, {LINES}-line order, one core, target {TARGET:,.0f} plans/s")
    if not args.against:
        now = _best([measure(args.seconds) for _ in range(args.rounds)])
        print(f"{'shape':<20} {'ops':>4} {'plans/s':>10} {'x target':>9} {'ms/plan':>8}")
        for name, r in now.items():
            rate = r["rate"]
            print(
                f"{name:<20} {r['ops']:>4} {rate:>10,.0f} {rate / TARGET:>9.2f} {1000 / rate:>8.3f}"
            )
        return

    before_runs, after_runs = [], []
    with tempfile.TemporaryDirectory(prefix="planner-bench-") as tmp:
        _extract(args.against, Path(tmp))
        for _ in range(args.rounds):
            before_runs.append(_measure_elsewhere(Path(tmp), args.seconds))
            after_runs.append(measure(args.seconds))
    before, after = _best(before_runs), _best(after_runs)
    print(f"before = {args.against}, after = working tree; best of {args.rounds} round(s)")
    print(
        f"{'shape':<20} {'ops':>4} {'before/s':>9} {'after/s':>9} {'speed-up':>9} "
        f"{'x target':>9} {'same plan':>10}"
    )
    for name in SHAPES:
        b, a = before[name], after[name]
        same = "yes" if b["plan_sha256"] == a["plan_sha256"] else "NO"
        print(
            f"{name:<20} {a['ops']:>4} {b['rate']:>9,.0f} {a['rate']:>9,.0f} "
            f"{a['rate'] / b['rate']:>9.2f} {a['rate'] / TARGET:>9.2f} {same:>10}"
        )


if __name__ == "__main__":
    main()
