"""`cpqsync status` on a real broker, over data shaped like a running deployment's."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import pytest
from confluent_kafka import Producer

from schemas.codec import Codec
from schemas.dead_letter import to_headers
from schemas.models import BridgeCheckpoint, DeadLetter, SyncResult, SyncStatus
from tests.ops.conftest import Deployment

pytestmark = pytest.mark.integration


def _result(
    now: dt.datetime, record: str, status: SyncStatus, minutes_ago: int, message: str
) -> SyncResult:
    return SyncResult(
        result_id=f"r-{record}",
        primary_record_id=record,
        primary_object_type="Order",
        status=status,
        message=message,
        attempted_at=now - dt.timedelta(minutes=minutes_ago),
        duration_ms=120.0,
    )


@pytest.fixture
def running(deployment: Deployment, unique: Callable[[str], str]) -> tuple[Deployment, str]:
    # Taken per test, not at import: a long suite would otherwise age every timestamp.
    now = dt.datetime.now(dt.UTC)
    topics, codec = deployment.topics, Codec()
    producer = Producer({"bootstrap.servers": deployment.bootstrap})
    order_topic = topics.object_topic("Order")
    for i in range(10):  # 6 records on partition 0, 4 on partition 1, in one batch each
        producer.produce(order_topic, f"v{i}".encode(), f"k{i}".encode(), 0 if i < 6 else 1)
    checkpoint = BridgeCheckpoint(
        channel="/data/OrderChangeEvent",
        replay_id=b"\x00\x2a",
        commit_timestamp=now - dt.timedelta(seconds=90),
        updated_at=now - dt.timedelta(seconds=5),
    )
    producer.produce(
        topics.bridge_checkpoints,
        codec.encode(checkpoint, topics.bridge_checkpoints),
        checkpoint.channel.encode(),
    )
    letter = DeadLetter(
        origin_topic=order_topic,
        origin_partition=0,
        origin_offset=1,
        error_class="E",
        error_message="bad",
    )
    for partition in (0, 1, 1):
        producer.produce(topics.dlq, b"x", b"k", partition, headers=[*to_headers(letter)])
    results = [
        _result(now, "801A", SyncStatus.ERROR, 30, "Data Error: the order has no quote"),
        _result(now, "801B", SyncStatus.SUCCESS, 20, "Synced"),
        _result(now, "801C", SyncStatus.ERROR, 10, "Stripe Error: card_declined"),
    ]
    for result in results:
        producer.produce(
            topics.sync_results, codec.encode(result, topics.sync_results), result.result_id
        )
    # The live-sync switch as the sync consumer documents it (consumer/sync/live_switch.py).
    switch = {"live": False, "changed_by": "ops-test", "changed_at": "2024-05-01T12:00:00+00:00"}
    producer.produce(topics.control, json.dumps(switch).encode(), b"sync.live")
    assert producer.flush(10) == 0
    group = unique("sync")
    deployment.commit(group, {(order_topic, 0): 2, (order_topic, 1): 4})
    return deployment, group


def test_status_json_reports_every_part(running: tuple[Deployment, str]) -> None:
    deployment, group = running
    order_topic = deployment.topics.object_topic("Order")

    result = deployment.cli("status", "--json")

    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    (found,) = report["groups"]  # discovered: the only group on this deployment's topics
    assert found["group"] == group
    lag = {
        (p["topic"], p["partition"]): (p["committed"], p["end"], p["lag"])
        for p in found["partitions"]
    }
    assert lag == {(order_topic, 0): (2, 6, 4), (order_topic, 1): (4, 4, 0)}
    (checkpoint,) = report["checkpoints"]
    assert checkpoint["channel"] == "/data/OrderChangeEvent"
    assert checkpoint["replay_id"] == "002a"
    assert 89 <= checkpoint["position_age_s"] < 150
    assert 4 <= checkpoint["written_age_s"] < 60
    assert report["dlq"]["depth"] == 3
    assert {int(k): v for k, v in report["dlq"]["by_partition"].items()} == {0: 1, 1: 2}
    assert report["live_sync"]["runtime"] == "off"
    assert "ops-test" in report["live_sync"]["source"]
    assert [e["primary_record_id"] for e in report["last_errors"]] == ["801C", "801A"]
    assert report["last_errors"][0]["message"] == "Stripe Error: card_declined"


def test_status_tables_for_named_groups(running: tuple[Deployment, str]) -> None:
    deployment, group = running

    result = deployment.cli("status", "--group", group, "--group", "never-ran", "--errors", "1")

    assert result.exit_code == 0, result.output
    assert group in result.output
    assert "never-ran" in result.output and "(no committed offsets)" in result.output
    assert "DLQ depth: 3 dead letter(s)" in result.output
    assert "Stripe Error: card_declined" in result.output
    assert "no quote" not in result.output, "--errors 1 shows only the newest error"


def test_status_of_an_empty_deployment(deployment: Deployment) -> None:
    result = deployment.cli("status", "--json")

    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["live_sync"]["runtime"] == "on", "no switch record: the settings decide"
    assert report["groups"] == [] and report["checkpoints"] == [] and report["last_errors"] == []
    assert report["dlq"] == {
        "topic": deployment.topics.dlq,
        "exists": True,
        "depth": 0,
        "by_partition": {"0": 0, "1": 0},
    }
