"""Reverse sync (B1) throughput: Stripe events through the event source and the billing
writeback, beside the forward sync's rates (``bench/sync.py``, same emulator conditions).

Stripe emulator in a process of its own (``cpqsync sandbox stripe``) with 150 ms on every
request, as in ``bench/sync.py``; embedded Tansu broker; REST org simulator. Setup (no
latency): N customers, each with a monthly subscription schedule whose metadata names an
Order of the org — their creation records the events (customer, schedule, subscription,
invoice created/finalized/paid/payment_succeeded, …). Then, with the latency on:

1. **catch-up**: the event source starts with no checkpoint and walks ``GET /v1/events``;
   events/s from start until every event is acknowledged on the topic.
2. **webhooks**: the same events re-sent with new ids, signed with the endpoint secret, by 16
   concurrent senders; events/s until every request was answered 200 (each answer waits for
   Kafka's acknowledgement).
3. **billing writeback**: a new billing group reads the topic from the start (both copies);
   events/s until it has committed everything, Stripe reads per event, Salesforce calls.

Run: ``python bench/reverse_sync.py`` (200 customers) or ``--customers N``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests
import stripe
from confluent_kafka import Consumer, TopicPartition
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from bench.sync import StripeProcess
from consumer.writeback import WritebackService
from consumer.writeback.billing_freshness import Freshness
from cpqsync.kafka.offsets import end_offsets
from cpqsync.kafka.topics import Topics, ensure_topics
from cpqsync.settings import StripeEventsSettings, StripeSettings
from cpqsync_sandbox.broker import EmbeddedBroker
from cpqsync_sandbox.org.simulator import OrgSimulator
from cpqsync_sandbox.stripe_emulator.webhook_delivery import sign
from producer_bridge.stripe_events.service import StripeEventSource
from tests.support.kafka_env import FAST_GROUP_CONFIG
from tests.writeback.reverse_sync_support import free_port
from tests.writeback.support import settings_for

LATENCY_MS = 150
PARTITIONS = 2


def _topic_size(kafka: str, topic: str) -> int:
    parts = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    return sum(end_offsets(kafka, parts).values())


def _committed(kafka: str, group: str, topic: str) -> int:
    probe = Consumer({"bootstrap.servers": kafka, "group.id": group})
    try:
        parts = probe.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], 10)
        return sum(max(tp.offset, 0) for tp in parts)
    finally:
        probe.close()


def _count(counter: Any) -> float:
    return float(
        sum(s.value for m in counter.collect() for s in m.samples if s.name.endswith("_total"))
    )


def _setup(client: stripe.StripeClient, org: OrgSimulator, customers: int) -> None:
    product = client.v1.products.create(params={"name": "Platform"})
    price = client.v1.prices.create(
        params={
            "currency": "usd",
            "product": product.id,
            "unit_amount": 12_000,
            "recurring": {"interval": "month"},
        }
    )

    def one(n: int) -> None:
        account = org.create("Account", {"Name": f"Bench {n}"})
        order = org.create(
            "Order",
            {"AccountId": account, "Status": "Draft", "EffectiveDate": "2026-12-06"},
        )
        customer = client.v1.customers.create(
            params={"name": f"Bench {n}", "metadata": {"salesforce_account_id": account}}
        )
        client.v1.subscription_schedules.create(
            params={
                "customer": customer.id,
                "start_date": "now",
                "metadata": {"salesforce_order_id": order},
                "phases": [
                    {
                        "items": [{"price": price.id}],
                        "duration": {"interval": "month", "interval_count": 12},
                    }
                ],
            }
        )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(customers)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=200)
    args = parser.parse_args()
    emulator = StripeProcess(0, 100_000)
    try:
        with EmbeddedBroker() as broker, OrgSimulator(start_pubsub=False) as org:
            kafka = broker.bootstrap_servers
            print(json.dumps(run(emulator, org, kafka, args.customers), indent=2))
    finally:
        emulator.close()


def run(emulator: StripeProcess, org: OrgSimulator, kafka: str, customers: int) -> dict[str, Any]:
    client = stripe.StripeClient(
        emulator.api_key, base_addresses={"api": emulator.api_base}, max_network_retries=0
    )
    port = free_port()
    endpoint = client.v1.webhook_endpoints.create(
        params={"url": f"http://127.0.0.1:{port}/unused", "enabled_events": ["*"]}
    )
    client.v1.webhook_endpoints.update(endpoint.id, params={"disabled": True})
    assert endpoint.secret is not None
    _setup(client, org, customers)
    events = [e.to_dict() for e in client.v1.events.list(params={"limit": 100}).auto_paging_iter()]
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    base = settings_for(org, kafka)
    settings = base.model_copy(
        update={
            "kafka": base.kafka.model_copy(
                update={"topic_prefix": prefix, "partitions": PARTITIONS}
            ),
            "stripe": StripeSettings(
                api_key=SecretStr(emulator.api_key), api_base=emulator.api_base, timeout_s=30
            ),
            "stripe_events": StripeEventsSettings(
                enabled=True,
                endpoint_secret=SecretStr(endpoint.secret),
                port=port,
                catch_up_interval_s=0.5,
            ),
        }
    )
    topics = Topics(prefix)
    ensure_topics(kafka, topics.all_topics(), partitions=PARTITIONS)
    requests.post(
        f"{emulator.api_base}/_emulator/latency", json={"fixed_ms": LATENCY_MS}, timeout=10
    ).raise_for_status()
    time.sleep(6)  # catch-up leaves the last seconds to its next walk

    started = time.perf_counter()
    source = StripeEventSource(settings, kafka).start()
    try:
        while _topic_size(kafka, topics.stripe_events) < len(events):
            time.sleep(0.05)
        catch_up_s = time.perf_counter() - started

        url = f"http://127.0.0.1:{source.port}/stripe/webhooks"
        bodies = []
        for event in events:
            copy = {**event, "id": f"evt_bench_{uuid.uuid4().hex}"}
            bodies.append(json.dumps(copy, default=str))
        sessions: dict[int, requests.Session] = {}

        def send(body: str) -> int:
            import threading

            session = sessions.setdefault(threading.get_ident(), requests.Session())
            header = sign(body.encode(), endpoint.secret or "", int(time.time()))
            return session.post(url, data=body, headers={"Stripe-Signature": header}).status_code

        started = time.perf_counter()
        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(send, bodies))
        webhook_s = time.perf_counter() - started
        assert statuses.count(200) == len(bodies), statuses[:5]
    finally:
        source.stop()

    total = _topic_size(kafka, topics.stripe_events)
    passes = {
        "writeback": _writeback(emulator, org, kafka, settings, topics, f"{prefix}-a", total, True),
        "writeback_reading_every_event": _writeback(
            emulator, org, kafka, settings, topics, f"{prefix}-b", total, False
        ),
    }
    return {
        "customers": customers,
        "events": len(events),
        "stripe_latency_ms": LATENCY_MS,
        "catch_up_events_per_s": round(len(events) / catch_up_s, 1),
        "webhook_events_per_s": round(len(bodies) / webhook_s, 1),
        "writeback_events": total,
        **passes,
    }


def _writeback(
    emulator: StripeProcess,
    org: OrgSimulator,
    kafka: str,
    settings: Any,
    topics: Topics,
    group: str,
    total: int,
    skip_seen: bool,
) -> dict[str, Any]:
    """One billing group reads the topic from the start; ``skip_seen`` False reads Stripe
    for every event (as if each came long after the previous one)."""
    requests.delete(f"{emulator.api_base}/_emulator/requests", timeout=60).raise_for_status()
    org.request_log.clear()
    writeback = WritebackService(
        settings,
        bootstrap_servers=kafka,
        group_id=group,
        registry=CollectorRegistry(),
        client_config=dict(FAST_GROUP_CONFIG),
    )
    assert writeback.billing is not None
    if not skip_seen:
        writeback.billing.handler.freshness = Freshness(margin_s=float("inf"))
    handled = writeback.billing.handler.metrics.events
    started = time.perf_counter()
    writeback.start()
    first: float | None = None
    try:
        while _committed(kafka, f"{group}-billing", topics.stripe_events) < total:
            if first is None and _count(handled) > 0:
                first = time.perf_counter()
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        steady = time.perf_counter() - (first or started)
    finally:
        writeback.stop()
    return {
        "events_per_s": round(total / elapsed, 1),
        "start_to_first_event_s": round(elapsed - steady, 2),
        "events_per_s_after_first": round(total / steady, 1),
        "stripe_reads_per_event": round(len(emulator.request_log()) / total, 2),
        "salesforce_calls": len(org.request_log),
    }


if __name__ == "__main__":
    main()
