"""Org simulator benchmark: SOQL order hydration queries per second (and the CDC section).

SOQL contenders, in one process on one org (the shipped dataset plus ``--orders`` generated
orders, each with 1-3 lines), alternating rounds, median of ``--rounds``:

- ``REST floor``: ``SELECT Id FROM User LIMIT 1`` through simple-salesforce over HTTPS, i.e. the
  cost of one authenticated API round trip with nearly no query work (the ratio baseline);
- ``REST hydrate 1``: the typical order hydration query (order, account with addresses, quote
  start/term, lines with their product and price book entry) for one order id;
- ``REST hydrate 200``: the same query for 200 ids (``Id IN (...)``), the sync consumer's batch
  shape; reported also as orders hydrated per second;
- ``in-process hydrate 1``: the executor alone (no HTTP, no JSON), to show where time goes.

Run: ``python bench/org_simulator.py [--section soql|cdc|all] [--orders N] [--seconds S]``.
The CDC section is ``bench/org_simulator_cdc.py``'s ``bench_cdc``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests
from simple_salesforce import Salesforce

from cpqsync.soql import quote
from cpqsync_sandbox.datasets import default_dataset
from cpqsync_sandbox.org.query_engine import execute
from cpqsync_sandbox.org.simulator import OrgSimulator

HYDRATION = (
    "SELECT Id, Status, EffectiveDate, CurrencyIsoCode, Skip_Past_Initial_Invoices__c, "
    "SBQQ__PaymentTerm__c, Stripe_ID__c, "
    "Account.Id, Account.Name, Account.Phone, Account.Description, Account.Stripe_ID__c, "
    "Account.BillingStreet, Account.BillingCity, Account.BillingState, "
    "Account.BillingPostalCode, Account.BillingCountry, Account.ShippingStreet, "
    "Account.ShippingCity, Account.ShippingState, Account.ShippingPostalCode, "
    "Account.ShippingCountry, "
    "SBQQ__Quote__r.SBQQ__StartDate__c, SBQQ__Quote__r.SBQQ__SubscriptionTerm__c, "
    "SBQQ__Quote__r.SBQQ__PaymentTerm__c, "
    "(SELECT Id, Quantity, UnitPrice, ServiceDate, EndDate, SBQQ__BillingFrequency__c, "
    "SBQQ__BillingType__c, SBQQ__SubscriptionPricing__c, SBQQ__ChargeType__c, "
    "Skip_Line_Item__c, Stripe_ID__c, PricebookEntryId, PricebookEntry.Stripe_ID__c, "
    "PricebookEntry.UnitPrice, Product2Id, Product2.Name, Product2.Description, "
    "Product2.Stripe_ID__c FROM OrderItems) "
    "FROM Order WHERE Id IN ({ids})"
)


def _rate(fn: Callable[[], object], seconds: float) -> float:
    calls = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        fn()
        calls += 1
    return calls / (time.perf_counter() - start)


def bench_soql(orders: int = 2_000, seconds: float = 2.0, rounds: int = 3) -> dict[str, float]:
    """Queries per second for each contender (median of alternating rounds)."""
    with OrgSimulator(
        dataset=default_dataset(), generated_orders=orders, start_pubsub=False
    ) as sim:
        http = requests.Session()
        http.verify = str(sim.ca_cert)
        http.trust_env = False
        sf = Salesforce(instance_url=sim.rest_url, session_id=sim.issue_token(), session=http)
        ids = [r["Id"] for r in sim.query("SELECT Id FROM Order").records]
        one = HYDRATION.format(ids=quote(ids[len(ids) // 2]))
        batch = HYDRATION.format(ids=", ".join(quote(i) for i in ids[:200]))
        assert sf.query(batch)["totalSize"] == 200
        contenders: dict[str, Callable[[], object]] = {
            "REST floor": lambda: sf.query("SELECT Id FROM User LIMIT 1"),
            "REST hydrate 1": lambda: sf.query(one),
            "REST hydrate 200": lambda: sf.query(batch),
            "in-process hydrate 1": lambda: execute(sim.store, one),
        }
        samples: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(rounds):
            for name, fn in contenders.items():
                samples[name].append(_rate(fn, seconds))
        return {name: statistics.median(values) for name, values in samples.items()}


def report_soql(rates: dict[str, float]) -> str:
    floor = rates["REST floor"]
    lines = [f"{'contender':<24}{'queries/s':>11}{'orders/s':>11}{'x REST floor':>14}"]
    for name, rate in rates.items():
        per_query = 200 if name.endswith("200") else (0 if name == "REST floor" else 1)
        orders = f"{rate * per_query:>11.0f}" if per_query else f"{'-':>11}"
        lines.append(f"{name:<24}{rate:>11.0f}{orders}{rate / floor:>14.2f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--section", choices=("soql", "cdc", "all"), default="all")
    parser.add_argument("--orders", type=int, default=2_000, help="generated orders in the org")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of one round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--events", type=int, default=6_000, help="CDC events to publish")
    args = parser.parse_args()
    if args.section in ("soql", "all"):
        print("SOQL order hydration")
        print(report_soql(bench_soql(args.orders, args.seconds, args.rounds)))
    if args.section in ("cdc", "all"):
        from bench.org_simulator_cdc import bench_cdc, report

        print("\nCDC events to one Pub/Sub subscriber")
        print(report(bench_cdc(args.events)))


if __name__ == "__main__":
    main()
