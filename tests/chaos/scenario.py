"""One chaos run from start to verdict, shared by the CI run and the long run.

1. Start the org (the shipped dataset plus generated orders, a share of them of the shapes
   beyond one plain phase: MDQ, evergreen, coupons, uneven terms), the Stripe emulator and every
   role as a subprocess; wait until the bridge subscribed and the sync group formed.
2. Expire the bridge's replay ids (``on_invalid_replay_id=earliest`` must carry on).
3. For the run's duration: the workload activates orders, amends accounts and prices, and
   contracts orders, then amends, cancels and renews the contracts; the
   killer SIGKILLs and restarts roles and moves a third sync member in and out; the injector
   adds Stripe and Salesforce faults; hostile input arrives a third of the way in.
4. Stop the chaos, heal every fault, and wait for the connector to converge: the consistency
   checker finds nothing (checked twice, a few seconds apart, so a late write cannot hide).
5. Gather the summary and the evidence the security checks need.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import TopicPartition

from cpqsync.kafka.offsets import end_offsets
from cpqsync_sandbox.datasets import default_dataset
from cpqsync_sandbox.org.simulator import OrgSimulator
from cpqsync_sandbox.stripe_emulator import StripeEmulator
from schemas.models import RootWork, SyncResult
from tests.chaos import bad_input, consistency
from tests.chaos.faults import FaultInjector, expire_replay_ids
from tests.chaos.killer import Killer, KillerStats
from tests.chaos.orphan_trace import orphan_traces
from tests.chaos.roles import wait_until
from tests.chaos.secret_scan import (
    MetricsScraper,
    TokenRecorder,
    listening_addresses,
    secrets_of,
)
from tests.chaos.shaped_orders import ShapedOrders, shaped_counts
from tests.chaos.stack import ChaosStack, chaos_stack
from tests.chaos.workload import Workload


@dataclass(frozen=True)
class ChaosProfile:
    orders: int
    seconds: float
    kill_interval: tuple[float, float]
    fault_interval: tuple[float, float]
    converge_timeout: float
    seed: int = 1
    inline_line_prices: bool = False  # setting sync.inline_line_prices for the whole run
    shaped_orders: bool = True  # a share of MDQ, evergreen, coupon, uneven-term orders
    # Chance of a pricebook price change after each activation (P7); None: the workload's.
    price_changes_per_order: float | None = None
    # Price changes flip each entry between its price and another (``Workload``): P7 waits.
    price_flips: bool = False


@dataclass
class ChaosOutcome:
    profile: ChaosProfile
    verdict: consistency.Verdict
    killer: KillerStats
    faults: Counter[str]
    workload: Counter[str]
    events: dict[str, int]
    p7: dict[str, Any]
    rebalances: int
    bad: bad_input.BadInput
    results: list[SyncResult]
    dead_letters: list[Any]
    metrics_pages: list[str]
    stack: ChaosStack
    sync_records: list[dict[str, Any]]
    secrets: dict[str, str]
    metrics_listening: dict[str, list[str]]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def report(self) -> consistency.Report:
        return self.verdict.report

    def summary(self) -> dict[str, Any]:
        return {
            "orders": self.profile.orders,
            "workload_seconds": self.profile.seconds,
            "timings_s": {k: round(v, 1) for k, v in self.timings.items()},
            "kills": dict(self.killer.kills),
            "kills_total": sum(self.killer.kills.values()),
            "restarts": self.killer.restarts,
            "sync_member_joins": self.killer.member_joins,
            "sync_member_leaves": self.killer.member_leaves,
            "rebalances_seen_by_sync_members": self.rebalances,
            "crashes": self.killer.crashes,
            "faults": dict(self.faults),
            "workload": dict(self.workload),
            "events": self.events,
            "p7": self.p7,
            "dead_letters": len(self.dead_letters),
            **self.report.summary(),
        }


def _settled(stack: ChaosStack, seconds: float = 2.0) -> None:
    """Until the bridge has published every change the org holds (topic ends stop moving)."""
    topics = stack.topics.change_topics
    partitions = [
        TopicPartition(t, p) for t in topics for p in range(stack.settings.kafka.partitions)
    ]
    last: dict[Any, int] = {}
    stable_since = time.monotonic()
    deadline = time.monotonic() + 90
    while time.monotonic() - stable_since < seconds:
        now = end_offsets(stack.kafka, partitions)
        if now != last or not any(now.values()):
            last, stable_since = now, time.monotonic()
        if time.monotonic() > deadline:
            raise AssertionError("the bridge never caught up with the org's changes")
        time.sleep(0.5)


def _events(stack: ChaosStack) -> dict[str, int]:
    topics = stack.topics
    names = {
        "change events bridged": topics.change_topics,
        "sync results": [topics.sync_results],
        "dead letters": [topics.dlq],
    }
    out = {}
    for label, group in names.items():
        parts = [
            TopicPartition(t, p) for t in group for p in range(stack.settings.kafka.partitions)
        ]
        out[label] = sum(end_offsets(stack.kafka, parts).values())
    return out


def p7_chains(works: list[RootWork]) -> dict[str, Any]:
    """What became of the P7 waits on the repartition topic: each produced wait asks an
    entry with ``then`` naming the waiting record; each such record must come back as work
    whose ``waited_for`` names what it waited for (a broken chain is an order never synced)."""
    waited = {w.then.record_id for w in works if w.then is not None}
    resumed = {w.record_id for w in works if w.waited_for}
    return {
        "asks": sum(1 for w in works if w.then is not None),
        "records that waited": len(waited),
        "resumed": len(waited & resumed),
        "never resumed": sorted(waited - resumed),
    }


def _p7_settled(stack: ChaosStack, timeout: float = 30.0) -> dict[str, Any]:
    """``p7_chains`` once no chain is half-way, or as it is after ``timeout``: a hop produced
    just before the run converged (its order synced by a redo meanwhile) gets time to land."""
    deadline = time.monotonic() + timeout
    while True:
        chains = p7_chains(stack.root_work())
        if not chains["never resumed"] or time.monotonic() > deadline:
            return chains
        time.sleep(2.0)


def converge(
    org: OrgSimulator, stripe: StripeEmulator, stack: ChaosStack, timeout: float
) -> consistency.Verdict:
    """The checker's verdict once it finds nothing twice in a row (or the last one at timeout)."""
    deadline = time.monotonic() + timeout
    clean = 0
    while True:
        verdict = consistency.check(org, consistency.snapshot(stripe), stack.settings)
        clean = clean + 1 if not verdict.report.discrepancies else 0
        if clean >= 2 or time.monotonic() > deadline:
            return verdict
        time.sleep(3 if clean else 5)


def run_chaos(profile: ChaosProfile, kafka: str, run_dir: Path, prefix: str) -> ChaosOutcome:
    timings: dict[str, float] = {}
    started = time.monotonic()
    shaped = shaped_counts(profile.orders) if profile.shaped_orders else {}
    plain = profile.orders - sum(shaped.values())
    with (
        OrgSimulator(dataset=default_dataset(), generated_orders=plain) as org,
        StripeEmulator() as stripe,
    ):
        tokens = TokenRecorder(org)
        shapes = ShapedOrders(org, profile.seed)
        shapes.make(shaped)
        drafts = [str(r["Id"]) for r in org.store.records("Order") if r.get("Status") == "Draft"]
        with chaos_stack(
            org, stripe, kafka, prefix, run_dir, inline_line_prices=profile.inline_line_prices
        ) as stack:
            stack.start()
            wait_until(
                lambda: stack.bridge.log_text().count("subscribed from") >= 5,
                90,
                "the bridge to subscribe to every channel",
            )
            wait_until(
                lambda: all("assigned [" in s.log_text() for s in stack.syncs),
                90,
                "both sync members to get partitions",
            )
            _settled(stack)
            faults = Counter[str]()
            expire_replay_ids(org, stack.bridge, faults)
            timings["start-up"] = time.monotonic() - started

            scraper = MetricsScraper()
            injector = FaultInjector(org, stripe, profile.fault_interval, seed=profile.seed)
            killer = Killer(
                [stack.bridge, *stack.syncs, stack.writeback],
                stack.spare_sync,
                profile.kill_interval,
                seed=profile.seed,
            )
            generated = frozenset(
                str(r["Id"])
                for r in org.store.records("Order")
                if str(r.get("Name", "")).startswith("Generated order")
            )
            workload = Workload(
                org,
                drafts,
                profile.seconds,
                seed=profile.seed,
                contractable=generated
                | {o for o, shape in shapes.shapes.items() if shape == "mdq"},
                shapes=shapes.shapes,
                price_flips=profile.price_flips,
                **(
                    {}
                    if profile.price_changes_per_order is None
                    else {"price_changes_per_order": profile.price_changes_per_order}
                ),
            )
            workload.stats.counts.update(shapes.counts)
            bad = bad_input.BadInput()
            chaos_started = time.monotonic()
            injector.start()
            killer.start()
            workload.start()
            try:
                _drive(profile, chaos_started, workload, scraper, stack, org, kafka, bad)
                workload.join(60)
            finally:
                # Even when the run fails: a live killer would restart roles after teardown.
                killer.stop()
                injector.stop()
            faults.update(injector.counts)
            timings["chaos"] = time.monotonic() - chaos_started

            converging = time.monotonic()
            verdict = converge(org, stripe, stack, profile.converge_timeout)
            timings["convergence"] = time.monotonic() - converging
            scraper.scrape(stack.roles)
            outcome = ChaosOutcome(
                profile=profile,
                verdict=verdict,
                killer=killer.stats,
                faults=faults,
                workload=workload.stats.counts,
                events=_events(stack),
                p7=_p7_settled(stack),
                rebalances=sum(
                    s.log_text().count("assigned [") for s in [*stack.syncs, stack.spare_sync]
                ),
                bad=bad,
                results=stack.results(),
                dead_letters=stack.dead_letters(),
                metrics_pages=scraper.pages,
                stack=stack,
                sync_records=[dict(r) for r in org.store.records("Sync_Record__c")],
                secrets=secrets_of(org, stripe.api_key, tokens),
                metrics_listening={
                    role.name: listening_addresses(role.metrics_port) for role in stack.roles
                },
                timings=timings,
            )
            (run_dir / "summary.json").write_text(json.dumps(outcome.summary(), indent=2))
            (run_dir / "discrepancies.txt").write_text("\n".join(verdict.report.discrepancies))
            (run_dir / "orphans.txt").write_text(
                orphan_traces(
                    verdict.report.discrepancies,
                    stripe.request_log(),
                    {
                        str(r["Id"]): str(r["OrderId"])
                        for r in org.store.records("OrderItem", include_deleted=True)
                    },
                )
            )
            timings["total"] = time.monotonic() - started
            return outcome


def _drive(
    profile: ChaosProfile,
    started: float,
    workload: Workload,
    scraper: MetricsScraper,
    stack: ChaosStack,
    org: OrgSimulator,
    kafka: str,
    bad: bad_input.BadInput,
) -> None:
    """The chaos phase's own loop: hostile input a third of the way in, metrics scraped."""
    hostile_at = started + profile.seconds / 3
    while time.monotonic() - started < profile.seconds or workload.running():
        if hostile_at and time.monotonic() >= hostile_at:
            bad_input.hostile_records(org, bad)
            bad_input.send_poison(kafka, stack.topics, stack.codec, bad)
            bad_input.send_hostile_ids(kafka, stack.topics, stack.codec, bad)
            hostile_at = 0
        scraper.scrape(stack.roles)
        time.sleep(2)
