"""Sync throughput and latency through the whole path, beside a one-order-at-a-time baseline.

Org simulator (shipped dataset + generated orders) → bridge (Pub/Sub over TLS) → Kafka
(embedded Tansu unless ``--bootstrap``) → sync consumer → Stripe emulator with 150 ms latency
on every request and a 100 requests/s limit (Stripe's live-mode limit). The sync paces itself at
90 % of that limit (``stripe.requests_per_second``). The emulator runs in a process of its own
(``cpqsync sandbox stripe``), as Stripe is remote; everything else shares this one.

1. **Throughput**: N orders activated at once; orders/s from the first activation to the last
   order's result, Stripe requests per order (429s excluded), and the achieved Stripe request
   rate as a fraction of the limit (target ≥ 0.8).
2. **Baseline**: the same path with one worker and one message per batch (one order at a
   time), on fewer orders (it is slow by construction); the ratio is throughput / baseline.
3. **Latency**: after 10 warm-up orders (customers and products exist, caches are warm), orders
   activated at a steady 20/s; Salesforce commit time of the activation (the change event's
   ``commitTimestamp``, as the org simulator stamped it) → the moment the sync received Stripe's
   answer to the order's schedule create (timed in the sync's own HTTP client). p50/p99 (target
   p99 < 2 s). Beside it, commit → the order's result (after the line prices are archived).

4. **Amendments** (rules A1, A2): N generated orders activated and contracted and synced, then
   one upsell each (+2 on the first recurring line, from three months after the contract's
   start) activated at once; Stripe requests per amendment beside requests per new order.

Run: ``python bench/sync.py`` (scaled down: 200 / 30 / 200 orders, 50 amendments) or ``--full``
(2,000 orders for throughput, 400 for latency, as the issue asks).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import logging
import re
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests
import stripe
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from prometheus_client import CollectorRegistry

from consumer.sync.results import reports_root
from consumer.sync.service import SyncService
from cpqsync.kafka.topics import Topics, ensure_topics
from cpqsync.stripe_client import build_stripe_client
from cpqsync_sandbox.broker import EmbeddedBroker
from cpqsync_sandbox.datasets import default_dataset
from cpqsync_sandbox.org.cpq_actions import AmendmentLine
from cpqsync_sandbox.org.dataset_generator import generate_orders
from cpqsync_sandbox.org.simulator import OrgSimulator
from cpqsync_sandbox.stripe_emulator import StripeEmulator
from schemas.models import SyncResult
from tests.sync.stack import FAST_GROUP, Stack, stack_settings

ROOT = Path(__file__).resolve().parents[1]
LATENCY_MS = 150
LIMIT = 100
# The sync's configured share of the limit, with a margin: requests bunch up on the way.
PACE = 90


@dataclass
class Run:
    orders: int
    seconds: float
    requests: int
    rate_limited: int
    # Commit -> schedule created, and commit -> the order's result, in seconds.
    latencies: list[float]
    result_latencies: list[float]
    endpoints: Counter[str]
    # Stripe requests sent (429s included) in each second of the run, from its start.
    timeline: list[int]
    # The repartition hop (trigger stage produced -> root stage started), from the sync's
    # histogram: mean, and the bucket bounds holding the p50 and p99, in seconds.
    hop: tuple[float, float, float] | None = None
    # Each member's requests in each second, and whether its root stage held work at the
    # end of that second (the sync's own runs only).
    member_timelines: list[list[int]] = field(default_factory=list)
    member_busy: list[list[bool]] = field(default_factory=list)
    # Seconds from the first activation to the first Stripe request (the sync's own runs).
    first_request: float | None = None

    @property
    def orders_per_s(self) -> float:
        return self.orders / self.seconds

    @property
    def requests_per_order(self) -> float:
        return self.requests / self.orders

    @property
    def rate_fraction(self) -> float:
        return self.requests / self.seconds / LIMIT


@contextlib.contextmanager
def kafka(bootstrap: str | None) -> Iterator[str]:
    if bootstrap:
        yield bootstrap
        return
    with EmbeddedBroker() as broker:
        yield broker.bootstrap_servers


class _Results:
    """Order results as they arrive, read once by a background consumer.

    Re-reading the whole results topic every half second (the tests' way) costs the process
    more CPU with every result, which the sync then lacks: at 2,000 orders it skewed the run.
    """

    def __init__(self, stack: Stack) -> None:
        self._topic = stack.topics.sync_results
        self._codec = stack.codec
        self._lock = threading.Lock()
        self._raw: dict[str, list[bytes | None]] = {}  # record id -> its results, undecoded
        self._stop = threading.Event()
        self._consumer = Consumer(
            {
                "bootstrap.servers": stack.kafka,
                "group.id": f"bench-results-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
            }
        )
        partitions = stack.settings.kafka.partitions
        self._consumer.assign(
            [TopicPartition(self._topic, p, OFFSET_BEGINNING) for p in range(partitions)]
        )
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            message = self._consumer.poll(0.2)
            if message is None or message.error() is not None:
                continue
            key = message.key()
            if key is not None:
                with self._lock:
                    self._raw.setdefault(key.decode(), []).append(message.value())

    def wait(self, wanted: set[str]) -> dict[str, SyncResult]:
        """The root result of each of ``wanted`` (decoded here: the rest never is)."""
        done: dict[str, SyncResult] = {}
        while True:
            with self._lock:
                arrived = {w: self._raw.pop(w) for w in wanted - done.keys() if w in self._raw}
            for record_id, values in arrived.items():
                for value in values:
                    result = self._codec.decode_as(value, self._topic, SyncResult)
                    if reports_root(result):
                        done[record_id] = result
            if len(done) == len(wanted):
                return done
            time.sleep(0.1)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._consumer.close()


class StripeProcess:
    """The Stripe emulator in a process of its own (``cpqsync sandbox stripe``), as Stripe is
    remote. In the bench's process, its one-second rate window saw requests bunched by the GIL
    (its event loop waits its turn among a hundred threads, then takes a backlog at once): 429s
    at 90 % of the limit that no remote API would send. Admin calls go over HTTP."""

    def __init__(self, latency_ms: float, rate_limit: int) -> None:
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cpqsync",
                "sandbox",
                "stripe",
                "--latency-ms",
                str(latency_ms),
                "--rate-limit",
                str(rate_limit),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        for line in self._process.stdout:
            if line.startswith("{"):
                ready = json.loads(line)
                self.api_base: str = ready["api_base"]
                self.api_key: str = ready["api_key"]
                break
        else:
            raise SystemExit(f"the Stripe emulator exited with {self._process.wait()}")
        self._http = requests.Session()

    def request_log(self) -> list[dict[str, Any]]:
        response = self._http.get(f"{self.api_base}/_emulator/requests", timeout=60)
        response.raise_for_status()
        entries: list[dict[str, Any]] = response.json()["data"]
        return entries

    def clear_request_log(self) -> None:
        self._http.delete(f"{self.api_base}/_emulator/requests", timeout=60).raise_for_status()

    def close(self) -> None:
        self._http.close()
        self._process.terminate()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


@contextlib.contextmanager
def stripe_process() -> Iterator[StripeProcess]:
    emulator = StripeProcess(LATENCY_MS, LIMIT)
    try:
        yield emulator
    finally:
        emulator.close()


class _ScheduleClock(stripe.RequestsClient):
    """The sync's HTTP client, noting when Stripe's answer to each order's schedule create
    arrived (wall clock, as the commit timestamps are): the moment the schedule exists for
    the sync. A replayed answer keeps the first moment."""

    def __init__(self, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.created: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        **options: Any,
    ) -> tuple[Any, int, Mapping[str, str]]:
        content, status, response_headers = super().request(
            method, url, headers, post_data, **options
        )
        if status == 200 and method.lower() == "post" and url.endswith("/subscription_schedules"):
            at = datetime.now(UTC)
            metadata = json.loads(content).get("metadata") or {}
            order = next(
                (v for k, v in metadata.items() if k.endswith("salesforce_order_id")), None
            )
            if order:
                with self._lock:
                    self.created.setdefault(str(order)[:15], at)
        return content, status, response_headers


class _Sampler:
    """The sync members' Stripe requests (429s included) in each second, for a timeline, and
    for each member: its requests in each second, and whether its root stage held work
    (fetched and not yet done) at the end of that second."""

    def __init__(self, *syncs: SyncService) -> None:
        self._syncs = syncs
        self._base = [sync.stripe_requests for sync in syncs]
        self._counts: list[list[int]] = []
        self._busy: list[list[bool]] = []
        self._stop = threading.Event()
        self._started = time.monotonic()
        self.first_request: float | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._first = threading.Thread(target=self._watch_first, daemon=True)
        self._first.start()

    def _watch_first(self) -> None:
        """When the first Stripe request went out, to 20 ms: the pipeline's fill before it
        (Salesforce reads, the repartition hop, cold caches) is the start of the run."""
        pairs = list(zip(self._syncs, self._base, strict=True))
        while not self._stop.wait(0.02):
            if any(sync.stripe_requests > base for sync, base in pairs):
                self.first_request = time.monotonic() - self._started
                return

    def _run(self) -> None:
        start = time.monotonic()
        while not self._stop.wait(max(0.0, start + len(self._counts) + 1 - time.monotonic())):
            pairs = zip(self._syncs, self._base, strict=True)
            self._counts.append([sync.stripe_requests - base for sync, base in pairs])
            self._busy.append([sync.engines[-1].buffered > 0 for sync in self._syncs])

    def stop(self) -> tuple[list[int], list[list[int]], list[list[bool]]]:
        """(requests in each second, each member's requests in each second, each member's
        root work at the end of each second)."""
        self._stop.set()
        self._thread.join()
        self._first.join()
        per_member = [
            [b - a for a, b in zip([0, *counts], counts, strict=False)]
            for counts in zip(*self._counts, strict=True)
        ]
        total = [sum(second) for second in zip(*per_member, strict=True)]
        busy = [list(member) for member in zip(*self._busy, strict=True)]
        return total, per_member, busy


def run(
    bootstrap: str,
    orders: int,
    *,
    sequential: bool = False,
    pace: float = 0.0,
    warm_up: int = 0,
    members: int = 1,
    partitions: int = 2,
    joins: str = "together",
    inline_line_prices: bool = False,
) -> Run:
    """``warm_up`` orders sync first (customers, products, caches exist), outside the figures.
    ``members`` sync processes' worth (in this process) share the account's budget."""
    # The previous run's objects (a 2,000-order org, its caches) are garbage now: collected
    # here, not in a full-heap pass of the next run that stalls every thread for up to 0.9 s.
    gc.collect()
    prefix = f"bench-sync-{uuid.uuid4().hex[:8]}"
    with (
        OrgSimulator(dataset=default_dataset()) as org,
        stripe_process() as stripe,
    ):
        ids = generate_orders(org.store, org.dataset, warm_up + orders, seed=11)
        warm, ids = ids[:warm_up], ids[warm_up:]
        # The org's records are Salesforce's, which is remote: frozen out of the garbage
        # collector's full-heap passes, which otherwise traverse the 2,000 generated orders
        # and stall the sync's threads with them (0.2-0.6 s every few seconds).
        gc.freeze()
        settings = stack_settings(org, cast(StripeEmulator, stripe), bootstrap, prefix)
        settings.kafka.partitions = partitions
        settings.stripe.requests_per_second = None
        settings.stripe.account_requests_per_second = PACE
        settings.stripe.timeout_s = 30
        settings.consumer.workers = 1 if sequential else 32
        settings.consumer.max_attempts = 10
        settings.sync.inline_line_prices = inline_line_prices
        ensure_topics(bootstrap, Topics(prefix).all_topics(), partitions=partitions)
        stack = Stack(org, cast(StripeEmulator, stripe), bootstrap, settings)
        clock = _ScheduleClock(settings.stripe.timeout_s)
        results: _Results | None = None
        try:
            stack.start_bridge()
            if members == 1:
                sync = stack.start_sync(
                    batch_size=1 if sequential else None,
                    stripe_client=build_stripe_client(settings.stripe, http_client=clock),
                )
                syncs = [sync]
            else:
                syncs = _start_together(stack, members, clock, one_by_one=joins == "one-by-one")
                sync = syncs[0]
            _wait_for_shares(syncs)
            results = _Results(stack)
            for order_id in warm:
                org.activate_order(order_id)
            results.wait(set(warm))
            stripe.clear_request_log()
            wanted = set(ids)
            started = time.monotonic()
            sampler = _Sampler(*syncs)
            for n, order_id in enumerate(ids):
                if pace:
                    delay = started + n / pace - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                org.activate_order(order_id)
            done = results.wait(wanted)
            seconds = time.monotonic() - started
            timeline, member_timelines, member_busy = sampler.stop()
            first_request = sampler.first_request
            failed = [r.message for r in done.values() if r.status.value != "Success"]
            if failed:
                raise SystemExit(f"{len(failed)} orders failed, e.g. {failed[0]}")
            log = stripe.request_log()
            commits = {
                order_id: r.trigger_commit_timestamp
                for order_id, r in done.items()
                if r.trigger_commit_timestamp is not None
            }
            missing = [o for o in commits if o[:15] not in clock.created]
            if missing:
                raise SystemExit(f"{len(missing)} orders have no timed schedule, e.g. {missing[0]}")
            latencies = [
                (clock.created[o[:15]] - commit).total_seconds() for o, commit in commits.items()
            ]
            result_latencies = [
                (done[o].attempted_at - commit).total_seconds() for o, commit in commits.items()
            ]
            return Run(
                hop=_hop(sync),
                orders=orders,
                seconds=seconds,
                requests=sum(1 for e in log if e["status"] != 429),
                rate_limited=sum(1 for e in log if e["status"] == 429),
                latencies=sorted(latencies),
                result_latencies=sorted(result_latencies),
                endpoints=Counter(
                    endpoint(e["method"], e["path"], e["params"])
                    + (f" -> {e['status']}" if e["status"] != 200 else "")
                    + (" (replayed)" if e["replayed"] else "")
                    for e in log
                ),
                timeline=timeline,
                member_timelines=member_timelines,
                member_busy=member_busy,
                first_request=first_request,
            )
        finally:
            if results is not None:
                results.close()
            stack.close()
            gc.unfreeze()


def _start_together(
    stack: Stack, members: int, clock: _ScheduleClock, *, one_by_one: bool
) -> list[SyncService]:
    """``members`` sync services in one group, started at once (as a Deployment's first
    rollout starts its replicas) or each after the previous one joined (as an autoscaler
    adds them)."""
    if one_by_one:
        return [
            stack.start_sync(
                stripe_client=build_stripe_client(stack.settings.stripe, http_client=clock)
            )
            for _ in range(members)
        ]
    services = [
        SyncService(
            stack.settings,
            bootstrap_servers=stack.kafka,
            group_id=f"{stack.settings.kafka.topic_prefix}-sync",
            client_config=dict(FAST_GROUP),
            registry=CollectorRegistry(),
            stripe_client=build_stripe_client(stack.settings.stripe, http_client=clock),
        ).start()
        for _ in range(members)
    ]
    for service in services:
        stack.track_sync(service)
    deadline = time.monotonic() + 120
    while not all(service.ready() for service in services):
        if time.monotonic() > deadline:
            raise SystemExit("the sync members never joined their group")
        time.sleep(0.1)
    return services


def _wait_for_shares(syncs: list[SyncService], timeout: float = 120) -> None:
    """Until the group has settled: every member owns partitions and the members' pacers
    add up to the account's budget (each sized to its share at the last rebalance)."""
    deadline = time.monotonic() + timeout
    while True:
        ceilings = [sync.parts.caller.pacer.max_rate for sync in syncs]
        if abs(sum(ceilings) - PACE) < 0.01 * PACE and min(ceilings) > 0.02 * PACE:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"the sync group never settled: pacer ceilings {ceilings}")
        time.sleep(0.2)


def _settled(stripe: StripeProcess, quiet_s: float = 3.0) -> None:
    """Wait until no Stripe request arrived for ``quiet_s`` (contracting re-syncs orders)."""
    count, since = -1, time.monotonic()
    while time.monotonic() - since < quiet_s:
        now = len(stripe.request_log())
        if now != count:
            count, since = now, time.monotonic()
        time.sleep(0.5)


def _months_later(start: date, months: int) -> date:
    index = start.year * 12 + start.month - 1 + months
    return date(index // 12, index % 12 + 1, min(start.day, 28))


def run_amendments(bootstrap: str, contracts: int) -> Run:
    """``contracts`` contracted orders synced, then one upsell each: the upsells' requests."""
    gc.collect()
    prefix = f"bench-sync-{uuid.uuid4().hex[:8]}"
    with OrgSimulator(dataset=default_dataset()) as org, stripe_process() as stripe:
        ids = generate_orders(org.store, org.dataset, contracts, seed=13)
        settings = stack_settings(org, cast(StripeEmulator, stripe), bootstrap, prefix)
        settings.stripe.requests_per_second = PACE
        settings.stripe.timeout_s = 30
        settings.consumer.workers = 32
        settings.consumer.max_attempts = 10
        ensure_topics(bootstrap, Topics(prefix).all_topics(), partitions=2)
        stack = Stack(org, cast(StripeEmulator, stripe), bootstrap, settings)
        results: _Results | None = None
        try:
            stack.start_bridge()
            stack.start_sync()
            results = _Results(stack)
            contract_of = {}
            for order_id in ids:
                org.activate_order(order_id)
                contract_of[order_id] = org.contract_order(order_id)
            results.wait(set(ids))
            _settled(stripe)
            stripe.clear_request_log()
            amendments = []
            for order_id, contract in contract_of.items():
                [line] = org.query(
                    "SELECT Id FROM OrderItem WHERE SBQQ__ChargeType__c = 'Recurring' "
                    f"AND OrderId = '{order_id}' ORDER BY Id LIMIT 1"
                ).records
                start = _months_later(org.get("Contract", contract)["StartDate"], 3)
                amendments.append(
                    org.amend_contract(contract, start, [AmendmentLine(2, revises=line["Id"])])
                )
            started = time.monotonic()
            for amendment in amendments:
                org.activate_order(amendment)
            done = results.wait(set(amendments))
            seconds = time.monotonic() - started
            failed = [r.message for r in done.values() if r.status.value != "Success"]
            if failed:
                raise SystemExit(f"{len(failed)} amendments failed, e.g. {failed[0]}")
            _settled(stripe)
            log = stripe.request_log()
            return Run(
                orders=contracts,
                seconds=seconds,
                requests=sum(1 for e in log if e["status"] != 429),
                rate_limited=sum(1 for e in log if e["status"] == 429),
                latencies=[],
                result_latencies=[],
                endpoints=Counter(
                    endpoint(e["method"], e["path"], e["params"])
                    + (f" -> {e['status']}" if e["status"] != 200 else "")
                    for e in log
                ),
                timeline=[],
            )
        finally:
            if results is not None:
                results.close()
            stack.close()


def _hop(sync: SyncService) -> tuple[float, float, float] | None:
    """Mean, p50 and p99 bucket bounds of ``cpqsync_sync_repartition_seconds`` so far."""
    registry = sync.registry
    name = "cpqsync_sync_repartition_seconds"
    if registry is None or registry.get_sample_value(f"{name}_count") is None:
        return None
    buckets: list[tuple[float, float]] = []
    for metric in registry.collect():
        for sample in metric.samples:
            if sample.name == f"{name}_bucket":
                buckets.append((float(sample.labels["le"]), sample.value))
    total = registry.get_sample_value(f"{name}_count") or 0.0
    mean = (registry.get_sample_value(f"{name}_sum") or 0.0) / max(total, 1.0)

    def bound(share: float) -> float:
        return next(le for le, count in sorted(buckets) if count >= share * total)

    return mean, bound(0.5), bound(0.99)


# An object id, not a resource name: ids carry digits or capitals (cus_Q3x…, sf_01t…).
_ID = re.compile(r"/(?=[a-z_]*[A-Z0-9])(?!v1/)[A-Za-z0-9_]+")


def endpoint(method: str, path: str, params: dict[str, object]) -> str:
    """``GET /v1/prices/{id}``, ``GET /v1/prices?lookup_keys``: what kind of request it was."""
    label = f"{method} {_ID.sub('/{id}', path)}"
    if method == "GET" and not _ID.search(path):
        filters = sorted(k for k in params if k not in ("limit", "expand", "starting_after"))
        label += "?" + ",".join(filters) if filters else ""
    return label


def print_endpoints(name: str, result: Run) -> None:
    print(f"\nStripe requests per order by endpoint, {name} ({result.orders} orders):")
    for label, count in result.endpoints.most_common():
        print(f"  {count / result.orders:6.2f}  {label}")
    print(f"Stripe requests in each second of the {name}: {' '.join(map(str, result.timeline))}")


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(share * 100) - 1]


# The production default (kafka.partitions): a group of up to six members.
MEMBER_PARTITIONS = 6


def median_second(result: Run) -> float:
    """The requests (429s included) of the run's median second over the limit: the rate
    while the backlog lasts, without the cold start and the last orders' tail."""
    return statistics.median(result.timeline) / LIMIT


def stripe_window(result: Run) -> float:
    """Requests per second over the limit from the first second with a Stripe request to the
    last: the whole run without the pipeline's fill before the first order reaches Stripe
    (Salesforce reads, the repartition hop) and the results after the last request. Whole
    seconds of the timeline, so its first (partial) second counts in full."""
    busy = [n for n, count in enumerate(result.timeline) if count]
    if not busy:
        return 0.0
    window = result.timeline[busy[0] : busy[-1] + 1]
    return sum(window) / len(window) / LIMIT


def compare_members(bootstrap: str, orders: int, members: int, joins: str) -> None:
    single = run(bootstrap, orders, partitions=MEMBER_PARTITIONS)
    group = run(bootstrap, orders, members=members, partitions=MEMBER_PARTITIONS, joins=joins)
    print(
        f"Stripe emulator: {LATENCY_MS} ms per request, limit {LIMIT} requests/s; account "
        f"budget {PACE}/s shared by the members; {MEMBER_PARTITIONS} partitions per topic; "
        f"members joined {joins}\n"
    )
    print(
        "| members | orders | orders/s | Stripe req/order | req/s | x limit | "
        "x limit, first to last request | x limit, median second | 429s | 429s / requests |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for count, result in ((1, single), (members, group)):
        sent = result.requests + result.rate_limited
        print(
            f"| {count} | {result.orders} | {result.orders_per_s:.1f} | "
            f"{result.requests_per_order:.2f} | {result.requests / result.seconds:.0f} | "
            f"{result.rate_fraction:.2f} | {stripe_window(result):.2f} | "
            f"{median_second(result):.2f} | {result.rate_limited} | "
            f"{result.rate_limited / sent:.2%} |"
        )
    for count, result in ((1, single), (members, group)):
        if result.first_request is not None:
            print(
                f"{count} member(s): first Stripe request {result.first_request:.2f} s after "
                f"the first activation, of a {result.seconds:.1f} s run"
            )
    whole = group.rate_fraction / single.rate_fraction
    window = stripe_window(group) / stripe_window(single)
    print(f"\n{members} members / 1: x limit {whole:.2f}, first to last request {window:.2f}")
    print_endpoints(f"{members}-member run", group)
    for count, result in ((1, single), (members, group)):
        print(
            f"\nEach member's Stripe requests in each second ({count}-member run; "
            "* = root work held):"
        )
        for n, (seconds, busy) in enumerate(
            zip(result.member_timelines, result.member_busy, strict=True)
        ):
            marked = (f"{r}{'*' if b else ''}" for r, b in zip(seconds, busy, strict=True))
            print(f"  member {n + 1}: {' '.join(marked)}")


def compare_inline(bootstrap: str, orders: int) -> None:
    """Warm orders at the limit with P6's create + archive of line prices, then with inline
    line prices (sync.inline_line_prices), the same generated orders in both runs."""
    p6 = run(bootstrap, orders, warm_up=10)
    inline = run(bootstrap, orders, warm_up=10, inline_line_prices=True)
    print(
        f"Stripe emulator: {LATENCY_MS} ms per request, limit {LIMIT} requests/s; account "
        f"budget {PACE}/s; {orders} warm orders activated at once (after 10 warm-up orders)\n"
    )
    print("| line prices | orders | orders/s | Stripe req/order | req/s | x limit | 429s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, result in (("created + archived (P6)", p6), ("inline price_data", inline)):
        print(
            f"| {name} | {result.orders} | {result.orders_per_s:.1f} | "
            f"{result.requests_per_order:.2f} | {result.requests / result.seconds:.0f} | "
            f"{result.rate_fraction:.2f} | {result.rate_limited} |"
        )
    print(
        f"\nInline: {inline.orders_per_s / p6.orders_per_s:.2f}x the orders/s, "
        f"{inline.requests_per_order / p6.requests_per_order:.2f}x the requests per order"
    )
    print_endpoints("line prices created + archived", p6)
    print_endpoints("inline line prices", inline)


def main() -> None:
    global PACE  # one budget for every run of this invocation (--budget)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--baseline-orders", type=int, default=30)
    parser.add_argument("--latency-orders", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0, help="orders/s in the latency run")
    parser.add_argument("--amendments", type=int, default=50, help="contracts amended once each")
    parser.add_argument("--full", action="store_true", help="2,000 orders as the issue asks")
    parser.add_argument("--bootstrap", help="an existing Kafka cluster instead of Tansu")
    parser.add_argument(
        "--members",
        type=int,
        default=1,
        help="instead of the runs above: N sync members sharing the account's budget, side by "
        "side with one member (--orders each; topics of MEMBER_PARTITIONS partitions)",
    )
    parser.add_argument(
        "--joins",
        choices=("together", "one-by-one"),
        default="together",
        help="with --members: start the members at once, or each after the last one joined",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=PACE,
        help=f"stripe.account_requests_per_second (default {PACE}: 0.9 of the emulator's "
        f"limit of {LIMIT}; set {LIMIT} to measure a budget configured at the account's limit)",
    )
    parser.add_argument(
        "--inline-line-prices",
        action="store_true",
        help="instead of the runs above: warm orders at the limit with line prices created "
        "and archived (P6) and with inline line prices (sync.inline_line_prices), side by side",
    )
    args = parser.parse_args()
    PACE = args.budget
    if args.full:
        args.orders, args.latency_orders = 2_000, 400
    logging.basicConfig(level=logging.ERROR)
    if args.inline_line_prices:
        with kafka(args.bootstrap) as bootstrap:
            compare_inline(bootstrap, args.orders)
        return
    if args.members > 1:
        with kafka(args.bootstrap) as bootstrap:
            compare_members(bootstrap, args.orders, args.members, args.joins)
        return

    with kafka(args.bootstrap) as bootstrap:
        throughput = run(bootstrap, args.orders)
        baseline = run(bootstrap, args.baseline_orders, sequential=True)
        steady = run(bootstrap, args.latency_orders, pace=args.rate, warm_up=10)
        amended = run_amendments(bootstrap, args.amendments)

    print(f"Stripe emulator: {LATENCY_MS} ms per request, limit {LIMIT} requests/s\n")
    print("| run | orders | orders/s | x baseline | Stripe req/order | req/s | x limit | 429s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, result in (
        ("32 workers, batches", throughput),
        ("one order at a time", baseline),
    ):
        print(
            f"| {name} | {result.orders} | {result.orders_per_s:.1f} | "
            f"{result.orders_per_s / baseline.orders_per_s:.1f} | "
            f"{result.requests_per_order:.2f} | {result.requests / result.seconds:.0f} | "
            f"{result.rate_fraction:.2f} | {result.rate_limited} |"
        )
    print(
        f"\nLatency at {args.rate:.0f} orders/s ({steady.orders} orders): "
        f"p50 {percentile(steady.latencies, 0.5):.2f} s, "
        f"p99 {percentile(steady.latencies, 0.99):.2f} s, "
        f"max {max(steady.latencies):.2f} s (commit -> result: "
        f"p50 {percentile(steady.result_latencies, 0.5):.2f} s, "
        f"p99 {percentile(steady.result_latencies, 0.99):.2f} s); "
        f"{steady.requests_per_order:.2f} Stripe requests/order, "
        f"{steady.requests / steady.seconds:.0f} req/s ({steady.rate_fraction:.2f} x limit), "
        f"{steady.rate_limited} 429s"
    )
    print(
        f"\nAmendments ({amended.orders} upsells activated at once): "
        f"{amended.requests_per_order:.2f} Stripe requests per amendment (per new order: "
        f"{throughput.requests_per_order:.2f} in the throughput run), "
        f"{amended.orders_per_s:.1f} amendments/s, {amended.rate_limited} 429s"
    )
    for name, result in (("throughput", throughput), ("latency", steady)):
        if result.hop is not None:
            mean, p50, p99 = result.hop
            print(
                f"Repartition hop ({name} run): mean {mean * 1000:.0f} ms, "
                f"p50 <= {p50 * 1000:.0f} ms, p99 <= {p99 * 1000:.0f} ms"
            )
    print_endpoints("throughput run", throughput)
    print_endpoints("latency run", steady)
    print_endpoints("amendment run", amended)


if __name__ == "__main__":
    main()
