"""`cpqsync replay` on a real broker: offsets move only for a stopped group, once confirmed."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer

from tests.ops.conftest import Deployment, table_rows

pytestmark = pytest.mark.integration

BASE = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)


def _produce_minutes(deployment: Deployment, topic: str, per_partition: int) -> None:
    """Records one minute apart from BASE, in many small batches and one large one."""
    producer = Producer({"bootstrap.servers": deployment.bootstrap})
    for partition in range(2):
        for i in range(per_partition):
            moment = BASE + dt.timedelta(minutes=i)
            producer.produce(
                topic,
                value=f"{partition}-{i}".encode(),
                partition=partition,
                timestamp=int(moment.timestamp() * 1000),
            )
            if partition == 0:
                producer.flush()  # partition 0: a batch per record; partition 1: one batch
    assert producer.flush(10) == 0


@pytest.fixture
def order_topic(deployment: Deployment) -> str:
    topic = deployment.topics.object_topic("Order")
    _produce_minutes(deployment, topic, 10)
    return topic


def test_to_earliest_rewinds_every_committed_partition(
    deployment: Deployment, order_topic: str, unique: Callable[[str], str]
) -> None:
    group = unique("grp")
    deployment.commit(group, {(order_topic, 0): 7, (order_topic, 1): 10})

    result = deployment.cli("replay", "--group", group, "--to-earliest", "--yes")

    assert result.exit_code == 0, result.output
    assert [row[:5] for row in table_rows(result.output)] == [
        [order_topic, "0", "7", "→", "0"],
        [order_topic, "1", "10", "→", "0"],
    ]
    assert deployment.committed(group, order_topic) == {0: 0, 1: 0}


def test_to_datetime_finds_the_first_record_at_or_after_the_moment(
    deployment: Deployment, order_topic: str, unique: Callable[[str], str]
) -> None:
    group = unique("grp")
    deployment.commit(group, {(order_topic, 0): 10, (order_topic, 1): 10})
    moment = BASE + dt.timedelta(minutes=3, seconds=30)

    result = deployment.cli(
        "replay", "--group", group, "--to-datetime", moment.isoformat(), "--yes"
    )

    assert result.exit_code == 0, result.output
    # Minute 4 is the first record at or after 3m30s, in both batch layouts.
    assert deployment.committed(group, order_topic) == {0: 4, 1: 4}


def test_to_datetime_after_the_last_record_moves_to_the_end(
    deployment: Deployment, order_topic: str, unique: Callable[[str], str]
) -> None:
    group = unique("grp")
    deployment.commit(group, {(order_topic, 0): 2, (order_topic, 1): 2})

    result = deployment.cli("replay", "--group", group, "--to-datetime", "2030-01-01", "--yes")

    assert result.exit_code == 0, result.output
    assert deployment.committed(group, order_topic) == {0: 10, 1: 10}


def test_to_offset_is_clamped_to_the_retained_range(
    deployment: Deployment, order_topic: str, unique: Callable[[str], str]
) -> None:
    group = unique("grp")
    deployment.commit(group, {(order_topic, 0): 1, (order_topic, 1): 1})

    result = deployment.cli(
        "replay", "--group", group, "--to-offset", "25", "--topic", order_topic, "--yes"
    )

    assert result.exit_code == 0, result.output
    assert "clamped" in result.output
    assert deployment.committed(group, order_topic) == {0: 10, 1: 10}


def test_the_sync_group_defaults_to_its_role_topics(
    deployment: Deployment, order_topic: str
) -> None:
    # cpqsync-sync is a fixed name, so this test's prefix keeps it apart from others.
    result = deployment.cli("replay", "--group", "cpqsync-sync", "--to-earliest", "--yes")

    assert result.exit_code == 0, result.output
    for topic in [*deployment.topics.change_topics, deployment.topics.sync_requests]:
        assert topic in result.output
    assert deployment.committed("cpqsync-sync", order_topic) == {0: 0, 1: 0}


def test_a_group_without_offsets_needs_topics_named(
    deployment: Deployment, unique: Callable[[str], str]
) -> None:
    result = deployment.cli("replay", "--group", unique("grp"), "--to-earliest", "--yes")

    assert result.exit_code == 1
    assert "no committed offsets" in result.output and "--topic" in result.output


def test_without_yes_and_without_input_nothing_changes(
    deployment: Deployment, order_topic: str, unique: Callable[[str], str]
) -> None:
    group = unique("grp")
    deployment.commit(group, {(order_topic, 0): 7, (order_topic, 1): 9})

    result = deployment.cli("replay", "--group", group, "--to-earliest", input="")

    assert result.exit_code == 1
    assert "pass --yes" in result.output
    assert deployment.committed(group, order_topic) == {0: 7, 1: 9}


def test_an_interactive_yes_applies_the_reset(
    deployment: Deployment, order_topic: str, unique: Callable[[str], str]
) -> None:
    group = unique("grp")
    deployment.commit(group, {(order_topic, 0): 7, (order_topic, 1): 9})

    result = deployment.cli("replay", "--group", group, "--to-offset", "5", input="y\n")

    assert result.exit_code == 0, result.output
    assert deployment.committed(group, order_topic) == {0: 5, 1: 5}


@pytest.fixture
def running_member(
    deployment: Deployment, order_topic: str, fast_group_config: dict[str, Any]
) -> Iterator[str]:
    """A group member that has joined and been assigned partitions."""
    group = f"{deployment.topics.prefix}-running"
    deployment.commit(group, {(order_topic, 0): 3, (order_topic, 1): 3})
    assigned, stop = threading.Event(), threading.Event()

    def member() -> None:
        consumer = Consumer(
            {
                "bootstrap.servers": deployment.bootstrap,
                "group.id": group,
                "enable.auto.commit": False,
                **fast_group_config,
            }
        )
        consumer.subscribe([order_topic], on_assign=lambda c, parts: assigned.set())
        try:
            while not stop.is_set():
                consumer.poll(0.2)
        finally:
            consumer.close()

    thread = threading.Thread(target=member, daemon=True)
    thread.start()
    try:
        assert assigned.wait(30), "the member was never assigned partitions"
        time.sleep(0.5)
        yield group
    finally:
        stop.set()
        thread.join(timeout=20)


def test_refuses_while_the_group_has_an_active_member(
    deployment: Deployment, order_topic: str, running_member: str
) -> None:
    result = deployment.cli("replay", "--group", running_member, "--to-earliest", "--yes")

    assert result.exit_code == 1
    assert "is active" in result.output
    assert deployment.committed(running_member, order_topic) == {0: 3, 1: 3}
