"""Backfill throughput: Bulk API 2.0 query job vs SOQL key paging, side by side in one run.

N activated orders in the org simulator (REST over TLS, OAuth JWT login; no Pub/Sub, so only
the backfill's own calls load it); ``cpqsync``'s :class:`Backfill` publishes one SNAPSHOT event
per order to a real Kafka broker (the embedded Tansu unless ``--bootstrap`` is given), once
with SOQL pages of 2,000 (``bridge.bulk_threshold`` above N) and once with one Bulk API 2.0
query job read in result sets of ``bridge.backfill_bulk_set_size`` (threshold 1). Rounds
alternate the two paths so a noisy neighbour slows both alike; each round writes to fresh
topics. Reported: rows/s per path (median over rounds), API calls per path, and the ratio.

Run: ``python bench/backfill.py [--orders N] [--full] [--rounds R] [--bootstrap HOST:PORT]``;
``--full`` is the issue's 100,000 orders (several minutes on a loaded 2-core machine).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from confluent_kafka import Producer

from cpqsync.kafka.clients import producer_config
from cpqsync.kafka.topics import Topics, ensure_topics
from cpqsync.salesforce.auth import SalesforceAuth
from cpqsync.salesforce.rest import SalesforceRest
from cpqsync.settings import BridgeSettings, KafkaSettings, MetricsSettings, Settings
from cpqsync_sandbox.broker import EmbeddedBroker
from cpqsync_sandbox.org.simulator import OrgSimulator
from producer_bridge.backfill import Backfill
from tests.bridge.conftest import sim_settings

FULL = 100_000


@contextlib.contextmanager
def kafka_servers(bootstrap: str | None) -> Iterator[str]:
    if bootstrap:
        yield bootstrap
        return
    with EmbeddedBroker() as broker:
        yield broker.bootstrap_servers


def seed(org: OrgSimulator, count: int) -> dt.datetime:
    """``count`` activated orders; the start date is just before the first."""
    since = dt.datetime.now(dt.UTC).replace(microsecond=0)
    time.sleep(1.01)
    account = org.create("Account", {"Name": "Backfill Bench Inc"})
    for _ in range(count):
        order = org.create(
            "Order",
            {"AccountId": account, "Status": "Draft", "EffectiveDate": dt.date(2025, 1, 1)},
        )
        org.activate_order(order)
    return since


def run_once(
    org: OrgSimulator, bootstrap: str, since: dt.datetime, prefix: str, bulk: bool, count: int
) -> tuple[float, int]:
    """Seconds to publish every order, and the REST calls it took."""
    settings = Settings(
        kafka=KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=prefix, partitions=3),
        salesforce=sim_settings(org, pubsub_target="127.0.0.1:1"),  # REST only
        bridge=BridgeSettings(bulk_threshold=1 if bulk else count + 1),
        metrics=MetricsSettings(enabled=False),
    )
    ensure_topics(bootstrap, Topics(prefix).all_topics(), partitions=3)
    backfill = Backfill(
        settings,
        SalesforceRest(SalesforceAuth(settings.salesforce)),
        Producer(producer_config(settings.kafka, bootstrap)),
        bootstrap,
        org_id=org.org_id,
    )
    org.clear_request_log()
    started = time.perf_counter()
    published = backfill.run(since, ["Order"])
    elapsed = time.perf_counter() - started
    if published != {"Order": count}:
        raise SystemExit(f"published {published}, expected {count} orders")
    calls = sum(1 for e in org.request_log if e.path.startswith("/services/data/"))
    return elapsed, calls


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--full", action="store_true", help=f"{FULL:,} orders")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--bootstrap", default=None)
    args = parser.parse_args(argv)
    count = FULL if args.full else args.orders

    with kafka_servers(args.bootstrap) as bootstrap, OrgSimulator(start_pubsub=False) as org:
        seeded_at = time.perf_counter()
        since = seed(org, count)
        print(f"seeded {count:,} activated orders in {time.perf_counter() - seeded_at:.1f} s")
        results: dict[str, list[tuple[float, int]]] = {"soql": [], "bulk": []}
        for round_no in range(args.rounds):
            order = ("soql", "bulk") if round_no % 2 == 0 else ("bulk", "soql")
            for path in order:
                prefix = f"bench-backfill-{path}-{round_no}-{time.time_ns()}"
                elapsed, calls = run_once(org, bootstrap, since, prefix, path == "bulk", count)
                results[path].append((elapsed, calls))
                print(f"round {round_no + 1} {path}: {count / elapsed:,.0f} rows/s ({calls} calls)")

    rates = {path: statistics.median(count / e for e, _ in runs) for path, runs in results.items()}
    calls = {path: runs[0][1] for path, runs in results.items()}
    print()
    print(f"| path | rows/s (median of {args.rounds}) | API calls |")
    print("|---|---|---|")
    print(f"| SOQL key paging (2,000 a page) | {rates['soql']:,.0f} | {calls['soql']} |")
    print(f"| Bulk API 2.0 query job (10,000 a set) | {rates['bulk']:,.0f} | {calls['bulk']} |")
    print(f"| bulk / soql | {rates['bulk'] / rates['soql']:.2f}x | |")


if __name__ == "__main__":
    main()
