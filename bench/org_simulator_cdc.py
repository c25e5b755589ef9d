"""CDC throughput of the org simulator: events per second published to one Pub/Sub subscriber.

Three contenders in one run, each on the same 200 accounts updated one transaction at a time:
``publish only`` (store DML -> CDC encoding -> event bus, nobody listening), ``to subscriber
plaintext`` and ``to subscriber TLS`` (the same DML while one plain-grpc subscriber, built from
the generated stubs like any third-party client, keeps 100 events requested and receives them).
The subscriber rate counts from the first DML to the last event received. Printed with the ratios
between contenders and against the 2,000 events/s target. Run: ``python bench/org_simulator_cdc.py
[--events N]``. ``bench_cdc()`` is importable for the combined org simulator benchmark.
"""

from __future__ import annotations

import argparse
import queue
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import grpc

from cpqsync.salesforce.pubsub_stubs import load
from cpqsync_sandbox.org.cdc.publisher import ChangePublisher
from cpqsync_sandbox.org.pubsub.bus import EventBus
from cpqsync_sandbox.org.pubsub.server import PubSubServer
from cpqsync_sandbox.org.schema import OBJECTS
from cpqsync_sandbox.org.store import OrgStore
from cpqsync_sandbox.org.tls import generate_server_certificates

TARGET_PER_S = 2_000
ORG_ID = "00D000000000001AAA"
USER_ID = "005000000000001AAA"
TOKEN = "bench-token"
METADATA = (("accesstoken", TOKEN), ("instanceurl", "https://127.0.0.1"), ("tenantid", ORG_ID))
ACCOUNTS = 200


def _org() -> tuple[OrgStore, EventBus, list[str]]:
    bus = EventBus()
    publisher = ChangePublisher(bus, OBJECTS)
    store = OrgStore(org_id=ORG_ID, user_id=USER_ID)
    ids = [
        store.create("Account", {"Name": f"Bench {n}", "BillingCity": "Paris"})
        for n in range(ACCOUNTS)
    ]
    store.add_change_listener(publisher.on_change)
    return store, bus, ids


def _run_dml(store: OrgStore, ids: list[str], events: int) -> None:
    for n in range(events):
        store.update("Account", ids[n % len(ids)], {"AnnualRevenue": float(n), "Phone": str(n)})


def publish_only(events: int) -> float:
    store, _, ids = _org()
    start = time.perf_counter()
    _run_dml(store, ids, events)
    return events / (time.perf_counter() - start)


def _requests(pb2: Any, wanted: queue.Queue[int | None]) -> Iterator[Any]:
    first = True
    while True:
        n = wanted.get()
        if n is None:
            return
        if first:
            yield pb2.FetchRequest(
                topic_name="/data/AccountChangeEvent", replay_preset=pb2.LATEST, num_requested=n
            )
            first = False
        else:
            yield pb2.FetchRequest(num_requested=n)


def to_subscriber(events: int, *, tls: bool, workdir: Path) -> float:
    pb2, pb2_grpc = load()
    store, bus, ids = _org()
    cert = key = ca = None
    if tls:
        certs = generate_server_certificates(workdir, ["127.0.0.1", "localhost"])
        cert, key, ca = certs.server_cert_pem, certs.server_key_pem, certs.ca_cert_pem
    server = PubSubServer(
        bus, "127.0.0.1", 0, cert, key, lambda md: md.get("accesstoken") == TOKEN, keepalive_s=5
    )
    server.start()
    channel = (
        grpc.secure_channel(server.target, grpc.ssl_channel_credentials(root_certificates=ca))
        if tls
        else grpc.insecure_channel(server.target)
    )
    wanted: queue.Queue[int | None] = queue.Queue()
    wanted.put(100)
    call = pb2_grpc.PubSubStub(channel).Subscribe(_requests(pb2, wanted), metadata=METADATA)
    first_response = next(call)  # the keepalive that proves the subscription is live
    assert not first_response.events
    try:
        received = 0
        start = time.perf_counter()
        producer = threading.Thread(target=_run_dml, args=(store, ids, events))
        producer.start()
        for response in call:
            received += len(response.events)
            if response.pending_num_requested == 0:
                wanted.put(100)
            if received >= events:
                break
        elapsed = time.perf_counter() - start
        producer.join()
        return received / elapsed
    finally:
        wanted.put(None)
        call.cancel()
        channel.close()
        server.stop(grace_s=0)


def bench_cdc(events: int = 6_000) -> dict[str, float]:
    """Events per second for each contender."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return {
            "publish only": publish_only(events),
            "to subscriber plaintext": to_subscriber(events, tls=False, workdir=Path(tmp)),
            "to subscriber TLS": to_subscriber(events, tls=True, workdir=Path(tmp)),
        }


def report(rates: dict[str, float]) -> str:
    lines = [f"{'contender':<26}{'events/s':>10}{'x target':>10}{'x publish only':>16}"]
    base = rates["publish only"]
    for name, rate in rates.items():
        lines.append(f"{name:<26}{rate:>10.0f}{rate / TARGET_PER_S:>10.2f}{rate / base:>16.2f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=6_000)
    args = parser.parse_args()
    print(report(bench_cdc(args.events)))


if __name__ == "__main__":
    main()
