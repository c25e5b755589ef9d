"""Helpers for the writeback tests: results on a real topic, a running service, org snapshots."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from consumer.writeback import WritebackService
from cpqsync.kafka.offsets import end_offsets
from cpqsync.settings import (
    ConsumerSettings,
    KafkaSettings,
    SalesforceSettings,
    Settings,
    SyncPreferences,
    WritebackSettings,
)
from cpqsync_sandbox.org.simulator import OrgSimulator
from schemas.codec import Codec
from schemas.models import SyncResult, SyncStatus

T0 = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)


def result(
    primary: str,
    *,
    object_type: str = "Account",
    status: SyncStatus = SyncStatus.SUCCESS,
    at: dt.datetime = T0,
    stripe_id: str | None = None,
    message: str | None = None,
    secondary: tuple[str, str] | None = None,
    invoice_link: str | None = None,
) -> SyncResult:
    success = status is SyncStatus.SUCCESS
    stripe_id = stripe_id if stripe_id is not None else (f"cus_{primary[-8:]}" if success else None)
    return SyncResult(
        result_id=uuid.uuid4().hex,
        primary_record_id=primary,
        primary_object_type=object_type,
        secondary_record_id=secondary[1] if secondary else None,
        secondary_object_type=secondary[0] if secondary else None,
        status=status,
        message=message or ("Synced" if success else "Stripe Error: card declined"),
        stripe_object_id=stripe_id,
        stripe_object_type="customer" if stripe_id else None,
        stripe_request_ids=[f"req_{uuid.uuid4().hex[:14]}"],
        dashboard_link=f"https://dashboard.stripe.com/test/customers/{stripe_id}"
        if stripe_id
        else None,
        invoice_payment_link=invoice_link,
        attempted_at=at,
        duration_ms=12.5,
    )


def produce(kafka: str, topic: str, results: Iterable[SyncResult]) -> int:
    codec = Codec()
    producer = Producer({"bootstrap.servers": kafka, "linger.ms": 20})
    count = 0
    for item in results:
        producer.produce(
            topic, key=item.primary_record_id.encode(), value=codec.encode(item, topic)
        )
        count += 1
        if count % 500 == 0:
            producer.poll(0)
    assert producer.flush(30) == 0
    return count


def settings_for(sim: OrgSimulator, kafka: str, **writeback: Any) -> Settings:
    retention = writeback.pop("retention", 10_000)
    consumer = writeback.pop("consumer", {})
    return Settings(
        kafka=KafkaSettings(bootstrap_servers=kafka),
        salesforce=SalesforceSettings(
            login_url=sim.login_url,
            auth_flow="client_credentials",
            client_id=sim.client_id,
            client_secret=SecretStr(sim.client_secret),
            ca_bundle=sim.ca_cert,
            api_version=sim.api_version,
        ),
        sync=SyncPreferences(record_retention=retention),
        consumer=ConsumerSettings(
            commit_interval_ms=200,
            max_attempts=2,
            retry_initial_backoff_ms=50,
            retry_max_backoff_ms=100,
            shutdown_deadline_s=10,
            **consumer,
        ),
        writeback=WritebackSettings(**writeback),
    )


def start_service(
    settings: Settings,
    kafka: str,
    topic: str,
    dlq: str,
    group: str,
    client_config: dict[str, Any],
    registry: CollectorRegistry | None = None,
) -> WritebackService:
    return WritebackService(
        settings,
        bootstrap_servers=kafka,
        group_id=group,
        results_topic=topic,
        dead_letter_topic=dlq,
        client_config=client_config,
        registry=registry or CollectorRegistry(),
    ).start()


def committed(kafka: str, group: str, topic: str) -> int:
    probe = Consumer({"bootstrap.servers": kafka, "group.id": group})
    try:
        [tp] = probe.committed([TopicPartition(topic, 0)], 10)
        return int(tp.offset)
    finally:
        probe.close()


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def wait_consumed(kafka: str, group: str, topic: str, timeout: float = 60) -> None:
    """Until ``group`` committed past every message of ``topic`` (partition 0)."""
    [end] = end_offsets(kafka, [TopicPartition(topic, 0)]).values()
    wait_until(lambda: committed(kafka, group, topic) >= end, timeout, f"{group} to reach {end}")


def read_all(kafka: str, topic: str, expect: int, timeout: float = 20) -> list[Any]:
    consumer = Consumer(
        {
            "bootstrap.servers": kafka,
            "group.id": f"reader-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(topic, 0, 0)])
    found: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while len(found) < expect and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                found.append(message)
        # a moment longer, so an unexpected extra message would be seen too
        settle = time.monotonic() + 1.0
        while time.monotonic() < settle:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                found.append(message)
    finally:
        consumer.close()
    return found


def sync_records(sim: OrgSimulator) -> dict[str, dict[str, Any]]:
    """Every Sync Record in the org, by compound id."""
    return {r["Compound_ID__c"]: dict(r) for r in sim.store.records("Sync_Record__c")}


def collection_calls(sim: OrgSimulator, method: str | None = None) -> int:
    return sum(
        1
        for entry in sim.request_log
        if "/composite/sobjects" in entry.path and (method is None or entry.method == method)
    )


def accounts(sim: OrgSimulator, count: int) -> list[str]:
    return [sim.create("Account", {"Name": f"Customer {i}"}) for i in range(count)]


def stripe_ids(sim: OrgSimulator, object_type: str, ids: Sequence[str]) -> dict[str, Any]:
    return {i: sim.get(object_type, i).get("Stripe_ID__c") for i in ids}
