"""Issue 8 acceptance: the whole bridge against the org simulator (TLS, OAuth) and real Kafka."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from typer.testing import CliRunner

from cpqsync.app.cli.app import app
from cpqsync.kafka.clients import producer_config
from cpqsync.kafka.topics import Topics, ensure_topics
from cpqsync.salesforce.auth import SalesforceAuth
from cpqsync.salesforce.rest import RetryableSalesforceError, SalesforceRest
from cpqsync.settings import BridgeSettings, KafkaSettings, MetricsSettings, Settings
from cpqsync_sandbox.org.simulator import OrgSimulator
from producer_bridge.backfill import Backfill
from producer_bridge.bridge import Bridge
from producer_bridge.checkpoint_store import load_checkpoints
from schemas.codec import Codec
from schemas.models import BridgeCheckpoint, ChangeEvent, ChangeType
from tests.bridge.conftest import sim_settings
from tests.bridge.kafka_read import TopicCounter, read_topic, wait_for

pytestmark = pytest.mark.integration

ACCOUNT = "/data/AccountChangeEvent"
ORDER = "/data/OrderChangeEvent"
PRODUCT = "/data/Product2ChangeEvent"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def prefix(unique: Callable[[str], str]) -> str:
    return unique("acc")


def settings_for(
    sim: OrgSimulator, kafka: str, prefix: str, channels: list[str], **bridge: Any
) -> Settings:
    return Settings(
        kafka=KafkaSettings(bootstrap_servers=kafka, topic_prefix=prefix, partitions=3),
        salesforce=sim_settings(sim),
        bridge=BridgeSettings(
            channels=channels,
            checkpoint_interval_s=0.2,
            reconnect_initial_backoff_s=0.05,
            reconnect_max_backoff_s=0.5,
            **bridge,
        ),
        metrics=MetricsSettings(enabled=False),
    )


@pytest.fixture
def running_bridge() -> Iterator[Callable[[Settings], Bridge]]:
    started: list[tuple[Bridge, threading.Thread]] = []

    def start(settings: Settings) -> Bridge:
        assert settings.kafka.bootstrap_servers
        bridge = Bridge(settings, settings.kafka.bootstrap_servers)
        thread = threading.Thread(target=bridge.run, daemon=True)
        thread.start()
        started.append((bridge, thread))
        wait_for(bridge.ready, timeout=30)
        return bridge

    yield start
    for bridge, thread in started:
        bridge.stop()
        thread.join(30)


def events_on(kafka: str, topic: str, codec: Codec) -> list[ChangeEvent]:
    return [codec.decode(m.value, topic) for m in read_topic(kafka, topic)]  # type: ignore[misc]


def test_dml_lands_on_the_right_topics_with_keys_types_and_fields(
    org_sim: OrgSimulator,
    kafka: str,
    prefix: str,
    running_bridge: Callable[[Settings], Bridge],
) -> None:
    settings = settings_for(
        org_sim, kafka, prefix, [ACCOUNT, ORDER, PRODUCT], initial_position="EARLIEST"
    )
    products = [org_sim.create("Product2", {"Name": f"P{n}"}) for n in range(50)]
    running_bridge(settings)
    account = org_sim.create("Account", {"Name": "Acme", "Phone": "+1 555 0100"})
    order = org_sim.create(
        "Order", {"AccountId": account, "Status": "Draft", "EffectiveDate": dt.date(2025, 1, 1)}
    )
    org_sim.update("Order", order, {"Status": "Activated"})
    rest = SalesforceRest(SalesforceAuth(settings.salesforce))
    body = {
        "allOrNone": True,
        "records": [
            {"attributes": {"type": "Product2"}, "id": pid, "Description": "Bulk repriced"}
            for pid in products
        ],
    }
    rest.call(lambda sf: sf.restful("composite/sobjects", method="PATCH", json=body))

    topics, codec = Topics(prefix), Codec()
    wait_for(lambda: len(events_on(kafka, topics.object_topic("Product2"), codec)) >= 100)
    wait_for(lambda: len(events_on(kafka, topics.object_topic("Order"), codec)) >= 2)

    [account_event] = events_on(kafka, topics.object_topic("Account"), codec)
    assert (account_event.record_id, account_event.change_type) == (account, ChangeType.CREATE)
    assert account_event.value("Phone") == "+1 555 0100"

    order_messages = read_topic(kafka, topics.object_topic("Order"))
    order_events = [codec.decode(m.value, topics.object_topic("Order")) for m in order_messages]
    assert {m.key for m in order_messages} == {order.encode()}
    assert [e.change_type for e in order_events] == [ChangeType.CREATE, ChangeType.UPDATE]  # type: ignore[union-attr]
    activation = order_events[1]
    assert isinstance(activation, ChangeEvent)
    assert {"Status", "ActivatedDate"} <= set(activation.changed_fields)
    assert activation.value("Status") == "Activated"

    product_topic = topics.object_topic("Product2")
    product_messages = read_topic(kafka, product_topic)
    by_key: dict[bytes, list[ChangeEvent]] = {}
    for message in product_messages:
        event = codec.decode(message.value, product_topic)
        assert isinstance(event, ChangeEvent) and message.key == event.record_id.encode()
        by_key.setdefault(message.key, []).append(event)
    assert sorted(by_key) == sorted(p.encode() for p in products)
    assert all(
        [e.change_type for e in history] == [ChangeType.CREATE, ChangeType.UPDATE]
        for history in by_key.values()
    )
    bulk = [history[1] for history in by_key.values()]
    assert all(
        "Description" in e.changed_fields and e.value("Description") == "Bulk repriced"
        for e in bulk
    )
    # One Salesforce transaction, split per record: they share the transaction key.
    assert len({e.transaction_key for e in bulk}) == 1


def _bridge_env(settings: Settings) -> dict[str, str]:
    sf = settings.salesforce
    env = {
        **os.environ,
        "CPQSYNC_KAFKA__BOOTSTRAP_SERVERS": str(settings.kafka.bootstrap_servers),
        "CPQSYNC_KAFKA__TOPIC_PREFIX": settings.kafka.topic_prefix,
        "CPQSYNC_KAFKA__PARTITIONS": "3",
        "CPQSYNC_SALESFORCE__LOGIN_URL": sf.login_url,
        "CPQSYNC_SALESFORCE__AUTH_FLOW": "jwt_bearer",
        "CPQSYNC_SALESFORCE__CLIENT_ID": str(sf.client_id),
        "CPQSYNC_SALESFORCE__USERNAME": str(sf.username),
        "CPQSYNC_SALESFORCE__PRIVATE_KEY_FILE": str(sf.private_key_file),
        "CPQSYNC_SALESFORCE__CA_BUNDLE": str(sf.ca_bundle),
        "CPQSYNC_SALESFORCE__PUBSUB_TARGET": sf.pubsub_target,
        "CPQSYNC_BRIDGE__CHANNELS": f'["{ACCOUNT}"]',
        "CPQSYNC_BRIDGE__INITIAL_POSITION": "EARLIEST",
        "CPQSYNC_BRIDGE__CHECKPOINT_INTERVAL_S": "0.2",
        # Small batches so the kill lands mid-stream even on a fast machine.
        "CPQSYNC_BRIDGE__BATCH_SIZE": "20",
        "CPQSYNC_METRICS__ENABLED": "false",
        "PYTHONPATH": str(REPO),
    }
    env.pop("CPQSYNC_CONFIG", None)
    return env


def _spawn_bridge(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "cpqsync", "bridge"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _sigkill_run(org_sim: OrgSimulator, kafka: str, prefix: str, total: int) -> None:
    settings = settings_for(org_sim, kafka, prefix, [ACCOUNT])
    topics, codec = Topics(prefix), Codec()
    ensure_topics(kafka, topics.all_topics(), partitions=3)
    topic = topics.object_topic("Account")
    env = _bridge_env(settings)
    ids: list[str] = []

    def write_stream(begin: int, end: int) -> None:
        """DML keeps arriving while the bridge runs, is killed, and is down."""
        chunk = max(10, total // 100)  # ~100 commits, ~10 s: the kill lands mid-stream
        for start in range(begin, end, chunk):
            ids.extend(
                org_sim.create("Account", {"Name": f"A{n}"})
                for n in range(start, min(start + chunk, end))
            )
            time.sleep(0.1)

    backlog = 200
    write_stream(0, backlog)  # waiting when the bridge starts
    counter = TopicCounter(kafka, topic)
    first = _spawn_bridge(env)
    writer = threading.Thread(target=write_stream, args=(backlog, total))
    try:
        wait_for(lambda: counter.count >= backlog // 2, timeout=60, interval=0.02)
        writer.start()
        wait_for(lambda: counter.count >= total // 3, timeout=60, interval=0.02)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        counter.close()
    produced_at_kill = len(read_topic(kafka, topic))
    checkpoint = load_checkpoints(kafka, topics.bridge_checkpoints, codec).get(ACCOUNT)
    writer.join(120)
    replay_order = [e.replay_id for e in org_sim.pubsub.bus.events_after(ACCOUNT, 0, total + 1)]
    assert len(replay_order) == total == len(ids)
    checkpointed = replay_order.index(checkpoint.replay_id) + 1 if checkpoint else 0
    assert produced_at_kill < total, "the kill must land mid-stream"

    second = _spawn_bridge(env)
    try:
        wait_for(
            lambda: {e.record_id for e in events_on(kafka, topic, codec)} >= set(ids), timeout=90
        )
    finally:
        second.send_signal(signal.SIGTERM)
        _, stderr = second.communicate(timeout=30)
    assert second.returncode == 0, stderr.decode()[-2000:]

    counts = Counter(e.record_id for e in events_on(kafka, topic, codec))
    assert set(counts) == set(ids)  # none lost
    duplicates = sum(counts.values()) - total
    after_checkpoint = produced_at_kill - checkpointed
    assert duplicates <= after_checkpoint, (duplicates, after_checkpoint)


def test_sigkill_mid_stream_loses_nothing_and_duplicates_only_after_checkpoint(
    org_sim: OrgSimulator, kafka: str, prefix: str
) -> None:
    _sigkill_run(org_sim, kafka, prefix, 1_000)


@pytest.mark.slow
def test_sigkill_mid_stream_of_5000_events(org_sim: OrgSimulator, kafka: str, prefix: str) -> None:
    _sigkill_run(org_sim, kafka, prefix, 5_000)


def _store_checkpoint(kafka: str, topics: Topics, checkpoint: BridgeCheckpoint) -> None:
    ensure_topics(kafka, topics.all_topics(), partitions=3)
    producer = Producer(producer_config(KafkaSettings(), kafka))
    topic = topics.bridge_checkpoints
    producer.produce(topic, Codec().encode(checkpoint, topic), checkpoint.channel.encode())
    assert producer.flush(10) == 0


def test_expired_replay_id_with_fail_exits_non_zero_naming_the_channel(
    org_sim: OrgSimulator, kafka: str, prefix: str
) -> None:
    settings = settings_for(org_sim, kafka, prefix, [ACCOUNT])
    for n in range(3):
        org_sim.create("Account", {"Name": f"Old {n}"})
    old = org_sim.pubsub.bus.events_after(ACCOUNT, 0, 10)[1].replay_id
    _store_checkpoint(kafka, Topics(prefix), BridgeCheckpoint(channel=ACCOUNT, replay_id=old))
    org_sim.pubsub.bus.advance_clock(73)
    env = {k: v for k, v in _bridge_env(settings).items() if k.startswith("CPQSYNC_")}
    env["CPQSYNC_BRIDGE__ON_INVALID_REPLAY_ID"] = "fail"
    result = CliRunner().invoke(app, ["bridge"], env=env)
    assert result.exit_code == 1, result.output
    assert ACCOUNT in result.output and old.hex() in result.output
    assert "on_invalid_replay_id" in result.output


def test_expired_replay_id_with_earliest_resumes_from_oldest_retained(
    org_sim: OrgSimulator,
    kafka: str,
    prefix: str,
    running_bridge: Callable[[Settings], Bridge],
) -> None:
    for n in range(3):
        org_sim.create("Account", {"Name": f"Old {n}"})
    old = org_sim.pubsub.bus.events_after(ACCOUNT, 0, 10)[1].replay_id
    topics = Topics(prefix)
    _store_checkpoint(kafka, topics, BridgeCheckpoint(channel=ACCOUNT, replay_id=old))
    org_sim.pubsub.bus.advance_clock(73)
    retained = [org_sim.create("Account", {"Name": f"New {n}"}) for n in range(4)]
    running_bridge(settings_for(org_sim, kafka, prefix, [ACCOUNT], on_invalid_replay_id="earliest"))
    topic = topics.object_topic("Account")
    wait_for(lambda: len(read_topic(kafka, topic)) >= 4)
    time.sleep(0.5)
    assert sorted(e.record_id for e in events_on(kafka, topic, Codec())) == sorted(retained)


def create_orders(org_sim: OrgSimulator, count: int, activate: bool) -> list[str]:
    account = org_sim.create("Account", {"Name": "Orders Inc"})
    ids = []
    for _ in range(count):
        order = org_sim.create(
            "Order",
            {"AccountId": account, "Status": "Draft", "EffectiveDate": dt.date(2025, 1, 1)},
        )
        if activate:
            org_sim.activate_order(order)
        ids.append(order)
    return ids


def _backfill_run(
    org_sim: OrgSimulator, kafka: str, prefix: str, matching_count: int, page: int
) -> None:
    before = create_orders(org_sim, 40, activate=True)  # activated before the start date
    # SOQL datetimes have whole seconds: start at the next second after the last of these,
    # by the org's clock (it keeps stamps strictly increasing, so it may run ahead of ours).
    last = org_sim.get("Order", before[-1])["ActivatedDate"]
    since = last.replace(microsecond=0) + dt.timedelta(seconds=1)
    time.sleep(max(0.0, (since - dt.datetime.now(dt.UTC)).total_seconds()) + 0.01)
    matching = create_orders(org_sim, matching_count, activate=True)
    create_orders(org_sim, 30, activate=False)  # after the date but excluded by the Order filter
    settings = settings_for(org_sim, kafka, prefix, [ACCOUNT])
    settings.bridge.backfill_page_size = page
    topics = Topics(prefix)
    ensure_topics(kafka, topics.all_topics(), partitions=3)

    def backfill() -> Backfill:
        return Backfill(
            settings,
            SalesforceRest(SalesforceAuth(settings.salesforce)),
            Producer(producer_config(settings.kafka, kafka)),
            kafka,
            org_id=org_sim.org_id,
        )

    def interrupt_after_two_pages(_name: str, _page: int, done: int) -> None:
        if done == 2 * page:
            org_sim.api_usage.fail_next(1)

    with pytest.raises(RetryableSalesforceError):
        backfill().run(since, ["Order"], on_progress=interrupt_after_two_pages)
    resumed = backfill().run(since, ["Order"])
    assert resumed["Order"] == matching_count - 2 * page

    topic = topics.object_topic("Order")
    counts = Counter(e.record_id for e in events_on(kafka, topic, Codec()))
    assert set(counts) == set(matching)
    assert sum(counts.values()) - matching_count <= page  # duplicates at most the last batch
    assert all(
        e.change_type is ChangeType.SNAPSHOT and e.value("ActivatedDate")
        for e in events_on(kafka, topic, Codec())
    )


def test_backfill_publishes_exactly_the_matching_orders_and_resumes(
    org_sim: OrgSimulator, kafka: str, prefix: str
) -> None:
    _backfill_run(org_sim, kafka, prefix, 700, page=200)


@pytest.mark.slow
def test_backfill_of_10000_orders(org_sim: OrgSimulator, kafka: str, prefix: str) -> None:
    _backfill_run(org_sim, kafka, prefix, 10_000, page=2_000)
