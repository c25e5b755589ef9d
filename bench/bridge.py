"""Bridge throughput: simulator stream → Kafka acknowledgement, and decoding beside fastavro.

Two measurements in one run:

1. **Decode step vs plain fastavro.** The same Salesforce payloads (the real
   captured AccountChangeEvent schema: UPDATE events with 4 changed fields and
   CREATE events with 20 fields set) decoded by ``ChangeEventDecoder`` (payload →
   per-record ChangeEvents with bitmaps resolved) and by bare
   ``fastavro.schemaless_reader`` on the same pre-parsed schema. Rounds alternate
   so a noisy neighbour slows both alike; the median round counts. Target ≥ 70 %.
2. **End to end, one channel.** N events pre-published on the org simulator's
   (``OrgSimulator``: OAuth JWT login, TLS gRPC with its CA), served by its
   gRPC Pub/Sub server; one ``ChannelStream`` subscribes
   from EARLIEST and produces to a real Kafka broker (the embedded Tansu unless
   ``--bootstrap`` is given). Time from subscribe until Kafka acknowledged the
   last event. Target ≥ 2,000 events/s.

Run: ``python bench/bridge.py [--events N] [--seconds S] [--bootstrap HOST:PORT]``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import fastavro
from confluent_kafka import Producer

from cpqsync.kafka.clients import producer_config
from cpqsync.kafka.topics import Topics, ensure_topics
from cpqsync.salesforce.auth import SalesforceAuth
from cpqsync.salesforce.pubsub_client import PubSubClient
from cpqsync.settings import BridgeSettings, KafkaSettings, SalesforceSettings
from cpqsync_sandbox.broker import EmbeddedBroker
from cpqsync_sandbox.org.simulator import OrgSimulator
from producer_bridge.bridge import topic_router
from producer_bridge.cdc_decoder import ChangeEventDecoder, RawEvent
from producer_bridge.channel_stream import ChannelStream
from producer_bridge.event_publisher import EventPublisher
from schemas.codec import Codec
from tests.bridge.sample_events import (
    DictSchemas,
    account_schema,
    bitmap,
    encode,
    header,
)

CHANNEL = "/data/AccountChangeEvent"


def sample_payloads(count: int) -> list[bytes]:
    schema = account_schema()
    payloads = []
    for n in range(count):
        if n % 2:
            record = {
                "ChangeEventHeader": header(
                    recordIds=[f"001{n:012d}AAA"], changedFields=[bitmap(7, 12, 23, 24)]
                ),
                "Phone": f"+1 555 {n:04d}",
                "Industry": "Energy",
                "LastModifiedDate": 1_700_000_000_000 + n,
                "LastModifiedById": "005000000000001AAA",
            }
        else:
            record = {
                "ChangeEventHeader": header(changeType="CREATE", recordIds=[f"001{n:012d}AAA"]),
                "Name": f"Account {n}",
                "Type": "Customer",
                "BillingAddress": {"Street": "1 Main St", "City": "Lyon", "Country": "FR"},
                "Phone": "+33 1 00 00 00 00",
                "Website": "https://example.com",
                "Industry": "Energy",
                "AnnualRevenue": 1.5e6,
                "NumberOfEmployees": 120,
                "OwnerId": "005000000000001AAA",
                "CreatedDate": 1_700_000_000_000,
                "CreatedById": "005000000000001AAA",
                "LastModifiedDate": 1_700_000_000_000,
                "LastModifiedById": "005000000000001AAA",
                "Description": "A customer " * 5,
                "Rating": "Hot",
                "AccountSource": "Web",
                "CustomerPriority__c": "High",
                "SLA__c": "Gold",
                "Active__c": "Yes",
                "NumberofLocations__c": 3.0,
            }
        payloads.append(encode(schema, record))
    return payloads


def bench_decode(seconds: float) -> tuple[float, float]:
    """(decoder events/s, plain fastavro events/s), medians of alternating rounds."""
    schema = account_schema()
    parsed = fastavro.parse_schema(schema)
    payloads = sample_payloads(2_000)
    decoder = ChangeEventDecoder(DictSchemas({"s": schema}), org_id="00D000000000001AAA")
    events = [RawEvent("s", p, b"\x00\x01") for p in payloads]

    def plain() -> None:
        reader = fastavro.schemaless_reader
        for payload in payloads:
            reader(io.BytesIO(payload), parsed, None)

    def ours() -> None:
        # As the stream calls it: one receive time per response of 100 events.
        for start in range(0, len(events), 100):
            received = dt.datetime.now(dt.UTC)
            for event in events[start : start + 100]:
                decoder.decode(event, CHANNEL, received)

    contenders: dict[str, Callable[[], None]] = {"decoder": ours, "fastavro": plain}
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or not rates["decoder"]:
        for name, run in contenders.items():
            started = time.perf_counter()
            run()
            rates[name].append(len(payloads) / (time.perf_counter() - started))
    return statistics.median(rates["decoder"]), statistics.median(rates["fastavro"])


@contextlib.contextmanager
def kafka_servers(bootstrap: str | None) -> Iterator[str]:
    if bootstrap:
        yield bootstrap
        return
    with EmbeddedBroker() as broker:
        yield broker.bootstrap_servers


def bench_stream(count: int, bootstrap: str) -> float:
    """Events/s from subscribe to Kafka's acknowledgement of the last event."""
    topics = Topics(f"bench{int(time.time())}")
    ensure_topics(bootstrap, topics.all_topics(), partitions=3)
    with OrgSimulator() as sim:
        for n in range(count):
            sim.create("Account", {"Name": f"Account {n}", "Phone": "+1 555 0100"})
        last_replay = sim.pubsub.bus.events_after(CHANNEL, 0, count + 1)[-1].replay_id
        settings = SalesforceSettings(
            login_url=sim.login_url,
            auth_flow="jwt_bearer",
            client_id=sim.client_id,
            username=sim.username,
            private_key_file=sim.private_key_pem,
            ca_bundle=sim.ca_cert,
            pubsub_target=sim.grpc_target,
        )
        auth = SalesforceAuth(settings)
        client = PubSubClient(auth, settings)
        publisher = EventPublisher(
            Producer(producer_config(KafkaSettings(), bootstrap)),
            Codec(),
            topic_router(topics),
            topics.dlq,
            topics.bridge_checkpoints,
            CHANNEL,
        )
        stop = threading.Event()
        stream = ChannelStream(
            CHANNEL,
            client,
            ChangeEventDecoder(client, org_id=sim.org_id),
            publisher,
            BridgeSettings(initial_position="EARLIEST", checkpoint_interval_s=0.5),
            None,
            stop,
        )
        auth.session()  # log in before the clock starts
        thread = threading.Thread(target=stream.run, daemon=True)
        started = time.perf_counter()
        thread.start()
        while stream.position is None or stream.position.replay_id != last_replay:
            time.sleep(0.005)
        elapsed = time.perf_counter() - started
        stop.set()
        stream.interrupt()
        thread.join(30)
        client.close()
    return count / elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--bootstrap", default=None)
    args = parser.parse_args(argv)

    ours, plain = bench_decode(args.seconds)
    print(f"decode step      {ours:>10,.0f} events/s")
    print(f"plain fastavro   {plain:>10,.0f} events/s")
    print(f"ratio            {ours / plain:>10.0%}   (target >= 70%)")
    with kafka_servers(args.bootstrap) as bootstrap:
        rate = bench_stream(args.events, bootstrap)
    print(f"stream -> Kafka  {rate:>10,.0f} events/s over {args.events:,} events, one channel")
    print(f"vs target        {rate / 2000:>10.1f}x  (target >= 2,000 events/s)")


if __name__ == "__main__":
    main()
