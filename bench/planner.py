"""Planner throughput: plans per second for a 20-line order on one core.

Planning must never be the bottleneck beside Stripe's 100 requests/s, so the target is 2,000
plans/s. Three shapes of the same 20-line order are timed, in CPU-seconds of this process (the
machine is shared) and as ratios to the target: *steady* (customer, products and pricebook
prices already in Stripe: the usual re-sync), *cold* (everything new: 20 products and prices
to create) and *line prices* (every line differs from its pricebook entry: 20 line prices plus
their archives).

Each shape is timed in several short samples and the best is kept. ``--against REV`` also
times the planner as it was at git revision REV in a child process, alternating samples with
this one so load from others hits both alike, and checks that both give byte-identical plans:
a speed-up that changed an idempotency key would make replays create duplicates in Stripe.

    python bench/planner.py [--seconds 0.5] [--rounds 5] [--against REV]
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


class Planner:
    """The planner importable right now, with the three shapes ready to time."""

    def __init__(self) -> None:
        from consumer.sync.planning import PlanningContext, plan_order
        from cpqsync.settings import Settings

        try:  # the planner takes typed views of hydrated records (timed with it), ...
            from consumer.sync.planning.views import OrderView

            def plan(order: dict[str, Any], *, context: Any) -> Any:
                return plan_order(OrderView.of(order), context=context)

            self._plan_order = plan
        except ImportError:  # ... which revisions before them did not
            self._plan_order = plan_order
        self._context = PlanningContext(
            settings=Settings(
                mappings={"customer": {"custom": {"metadata.owner": "Account.Owner.Email"}}}
            ),
            now=dt.datetime(2026, 3, 10, tzinfo=dt.UTC),
        )
        self._orders = {name: _order(**shape) for name, shape in SHAPES.items()}

    def describe(self, name: str) -> dict[str, Any]:
        """Operation count and a hash of the plan's JSON (idempotency keys included)."""
        plan = self._plan_order(self._orders[name], context=self._context)
        assert plan.status == "ready", plan.errors
        digest = hashlib.sha256(plan.to_json().encode()).hexdigest()
        return {"ops": len(plan.operations), "plan_sha256": digest}

    def rate(self, name: str, seconds: float) -> float:
        """Plans per CPU-second of this process: other work on a shared machine does not
        count against us (it still slows caches, hence the alternating rounds)."""
        order, context, plan_order = self._orders[name], self._context, self._plan_order
        count = 0
        start = time.process_time()
        deadline = start + seconds
        while time.process_time() < deadline:
            for _ in range(20):
                plan_order(order, context=context)
            count += 20
        return count / (time.process_time() - start)


def _serve(seconds: float) -> None:
    """Child mode for --against: answer "describe NAME" / "rate NAME" lines with JSON."""
    planner = Planner()
    for line in sys.stdin:
        command, name = line.rstrip("\n").split(" ", 1)
        answer = planner.describe(name) if command == "describe" else planner.rate(name, seconds)
        print(json.dumps(answer), flush=True)


class _Baseline:
    """The planner of another revision, timed in a child process on request."""

    def __init__(self, source: Path, seconds: float) -> None:
        self._child = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--serve",
                "--source",
                str(source),
                "--seconds",
                str(seconds),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=source,
        )

    def ask(self, command: str, name: str) -> Any:
        assert self._child.stdin is not None and self._child.stdout is not None
        self._child.stdin.write(f"{command} {name}\n")
        self._child.stdin.flush()
        return json.loads(self._child.stdout.readline())

    def close(self) -> None:
        assert self._child.stdin is not None
        self._child.stdin.close()
        self._child.wait(timeout=30)


def _extract(revision: str, into: Path) -> None:
    """The importable packages as they were at ``revision`` (the planner and its settings)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", revision, "consumer", "cpqsync"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")


def _alone(planner: Planner, rounds: int, seconds: float) -> None:
    print(f"{'shape':<20} {'ops':>4} {'plans/s':>10} {'x target':>9} {'ms/plan':>8}")
    for name in SHAPES:
        rate = max(planner.rate(name, seconds) for _ in range(rounds))
        ops = planner.describe(name)["ops"]
        print(f"{name:<20} {ops:>4} {rate:>10,.0f} {rate / TARGET:>9.2f} {1000 / rate:>8.3f}")


def _side_by_side(planner: Planner, revision: str, rounds: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory(prefix="planner-bench-") as tmp:
        _extract(revision, Path(tmp))
        baseline = _Baseline(Path(tmp), seconds)
        try:
            rows = []
            for name in SHAPES:
                before, after = [], []
                for _ in range(rounds):  # alternate, so load from others hits both alike
                    before.append(baseline.ask("rate", name))
                    after.append(planner.rate(name, seconds))
                same = baseline.ask("describe", name) == planner.describe(name)
                rows.append((name, planner.describe(name)["ops"], max(before), max(after), same))
        finally:
            baseline.close()
    print(f"before = {revision}, after = working tree; best of {rounds} alternating rounds")
    print(
        f"{'shape':<20} {'ops':>4} {'before/s':>9} {'after/s':>9} {'speed-up':>9} "
        f"{'x target':>9} {'same plan':>10}"
    )
    for name, ops, b, a, same in rows:
        print(
            f"{name:<20} {ops:>4} {b:>9,.0f} {a:>9,.0f} {a / b:>9.2f} "
            f"{a / TARGET:>9.2f} {'yes' if same else 'NO':>10}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="per timing sample")
    parser.add_argument("--rounds", type=int, default=5, help="samples per shape (best kept)")
    parser.add_argument("--against", metavar="REV", help="also time the planner at this revision")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--source", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(args.source))
    if args.serve:
        _serve(args.seconds)
        return
    planner = Planner()
    print(f"planner, {LINES}-line order, one core, target {TARGET:,.0f} plans/s")
    if args.against:
        _side_by_side(planner, args.against, args.rounds, args.seconds)
    else:
        _alone(planner, args.rounds, args.seconds)


if __name__ == "__main__":
    main()
