"""Issue 11 acceptance: after a run, the sync group stopped, rewound with ``cpqsync replay
--to-earliest`` and started again re-syncs every order to the Stripe objects it already has.

The stack is a demo's (org simulator -> bridge -> Kafka -> sync -> Stripe emulator -> writeback
-> org) in one process, so the replayed log also holds the writeback's own echo events, and the
replayed orders are read back from Salesforce with their Stripe ids already written.

What a replay reports: every order (root) gets a result again; other records get one only when
Stripe was written for them (docs/sync.md), so lines, products and pricebook entries already in
Stripe are silent the second time. Waiting for the first run's whole set of results would hang.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from prometheus_client import CollectorRegistry

from consumer.sync.results import reports_root
from consumer.writeback.service import WritebackService
from cpqsync.app.ops.committed_offsets import PartitionKey, committed_offsets
from cpqsync.app.ops.group_activity import group_activity
from cpqsync.kafka.offsets import end_offsets
from cpqsync_sandbox.datasets import default_dataset
from cpqsync_sandbox.org.simulator import OrgSimulator
from cpqsync_sandbox.stripe_emulator import StripeEmulator
from schemas.models import SyncResult, SyncStatus
from tests.demo.processes import wait_until
from tests.ops.conftest import Deployment, table_rows
from tests.sync.stack import BAD_ORDERS, FAST_GROUP, GOOD_ORDERS, Stack, open_stack
from tests.sync.stripe_state import KINDS

pytestmark = pytest.mark.integration

PARTITIONS = 2  # what open_stack creates


@pytest.fixture
def stack(kafka: str, unique: Callable[[str], str]) -> Iterator[Stack]:
    with OrgSimulator(dataset=default_dataset()) as org, StripeEmulator() as emulator:
        yield from open_stack(org, emulator, kafka, unique("replay"))


@pytest.fixture
def writeback(stack: Stack) -> Iterator[WritebackService]:
    """Runs throughout, as in a demo: its Salesforce writes come back as change events."""
    service = WritebackService(
        stack.settings,
        bootstrap_servers=stack.kafka,
        group_id=f"{stack.topics.prefix}-writeback",
        client_config=dict(FAST_GROUP),
        registry=CollectorRegistry(),
    ).start()
    try:
        yield service
    finally:
        service.stop()


def stripe_ids(stack: Stack) -> dict[str, set[str]]:
    return {kind: {o["id"] for o in stack.stripe.objects(kind)} for kind in KINDS}


def results_end(stack: Stack) -> dict[PartitionKey, int]:
    """True end offsets of the results topic (Tansu's high watermark undercounts)."""
    topic = stack.topics.sync_results
    return end_offsets(stack.kafka, [TopicPartition(topic, p) for p in range(PARTITIONS)])


def results_since(stack: Stack, since: dict[PartitionKey, int]) -> list[SyncResult]:
    """Every result from ``since`` to the results topic's current true end."""
    ranges = {key: (since[key], end) for key, end in results_end(stack).items() if end > since[key]}
    if not ranges:
        return []
    consumer = Consumer(
        {
            "bootstrap.servers": stack.kafka,
            "group.id": f"replay-reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(t, p, start) for (t, p), (start, _) in ranges.items()])
    found: list[SyncResult] = []
    pending = set(ranges)
    deadline = time.monotonic() + 20
    try:
        while pending and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is None or message.error() is not None:
                continue
            key = (str(message.topic()), int(message.partition() or 0))
            found.append(stack.codec.decode_as(message.value(), key[0], SyncResult))
            if int(message.offset() or 0) + 1 >= ranges[key][1]:
                pending.discard(key)
    finally:
        consumer.close()
    assert not pending, f"could not read {sorted(pending)} to their end"
    return found


def order_results(results: list[SyncResult], order_id: str) -> list[SyncResult]:
    return [r for r in results if r.primary_record_id == order_id and reports_root(r)]


def reported(stack: Stack, since: dict[PartitionKey, int], orders: list[str]) -> bool:
    results = results_since(stack, since)
    return all(order_results(results, order_id) for order_id in orders)


def caught_up(admin: AdminClient, stack: Stack, group: str) -> bool:
    """The group committed every change-topic partition up to its true end."""
    keys = [TopicPartition(t, p) for t in stack.topics.change_topics for p in range(PARTITIONS)]
    committed = committed_offsets(admin, group)
    return all(committed.get(key, 0) >= end for key, end in end_offsets(stack.kafka, keys).items())


def test_replay_to_earliest_resyncs_every_order_without_new_stripe_objects(
    stack: Stack, writeback: WritebackService, tmp_path: Path
) -> None:
    org = stack.org
    good = [org.dataset.id(ref) for ref in GOOD_ORDERS]
    bad = [org.dataset.id(ref) for ref in BAD_ORDERS]
    group = f"{stack.topics.prefix}-sync"
    admin = AdminClient({"bootstrap.servers": stack.kafka})
    config = tmp_path / "cpqsync.yaml"
    config.write_text(
        yaml.safe_dump(
            {"kafka": {"bootstrap_servers": stack.kafka, "topic_prefix": stack.topics.prefix}}
        )
    )
    operator = Deployment(stack.kafka, stack.topics, config)
    start = dict.fromkeys(results_end(stack), 0)

    # 1. The first run: every order activated, synced, its Stripe id written back.
    stack.start_bridge()
    sync = stack.start_sync(group)
    for order_id in good + bad:
        org.activate_order(order_id)
    wait_until(lambda: reported(stack, start, good + bad), 90, "the first run's results")
    wait_until(
        lambda: all(org.get("Order", o).get("Stripe_ID__c") for o in good), 30, "the writeback"
    )
    wait_until(lambda: caught_up(admin, stack, group), 30, "the sync to consume the echoes")
    first = results_since(stack, start)
    before = stripe_ids(stack)
    assert [len(before[k]) for k in ("customer", "subscription_schedule", "invoice")] == [5, 4, 1]

    # 2. An operator who forgot to stop the group is refused; then it is stopped and rewound.
    running = operator.cli("replay", "--group", group, "--to-earliest", "--yes")
    assert running.exit_code == 1 and "is active" in running.output, running.output
    stack.stop_sync(sync)
    wait_until(lambda: group_activity(admin, group).stopped, 30, "the group to be stopped")
    committed = committed_offsets(admin, group)

    replay = operator.cli("replay", "--group", group, "--to-earliest", "--yes")

    assert replay.exit_code == 0, replay.output
    rows = {(row[0], int(row[1])): row[2:5] for row in table_rows(replay.output)}
    assert set(committed) <= set(rows), "every partition the group committed on is rewound"
    for key, old_arrow_new in rows.items():
        old = committed.get(key)
        assert old_arrow_new == ["-" if old is None else str(old), "→", "0"], key
    assert committed_offsets(admin, group) == dict.fromkeys(committed, 0)

    # 3. The group runs again over the whole log: the same answers, nothing new in Stripe.
    rerun_from = results_end(stack)
    stack.start_sync(group)
    wait_until(lambda: reported(stack, rerun_from, good + bad), 60, "the replayed results")
    wait_until(lambda: caught_up(admin, stack, group), 30, "the replay to reach the end")

    replayed = results_since(stack, rerun_from)
    assert stripe_ids(stack) == before
    for order_id in good:
        [was] = order_results(first, order_id)
        again = order_results(replayed, order_id)
        assert was.status is SyncStatus.SUCCESS, was.message
        assert [(r.status, r.stripe_object_id) for r in again] == [
            (SyncStatus.SUCCESS, was.stripe_object_id)
        ] * len(again), again
    for order_id in bad:
        [was] = order_results(first, order_id)
        again = order_results(replayed, order_id)
        assert was.status is SyncStatus.ERROR
        assert {(r.status, r.message) for r in again} == {(SyncStatus.ERROR, was.message)}
    # Whatever else the replay reported (customers it refreshed) succeeded, on objects it had.
    others = [r for r in replayed if r.primary_record_id not in bad]
    assert {r.status for r in others} == {SyncStatus.SUCCESS}
    known = set().union(*before.values())
    assert {r.stripe_object_id for r in others if r.stripe_object_id} <= known
