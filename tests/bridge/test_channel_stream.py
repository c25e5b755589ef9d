"""One channel end to end: the simulator's gRPC Pub/Sub server → our client → real Kafka."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from confluent_kafka import Producer
from prometheus_client import REGISTRY

from cpqsync.app.ops.checkpoint_ages import checkpoint_ages
from cpqsync.kafka.clients import producer_config
from cpqsync.kafka.topics import Topics, ensure_topics
from cpqsync.salesforce.pubsub_client import PubSubClient
from cpqsync.settings import BridgeSettings, KafkaSettings
from cpqsync_sandbox.org.cdc.events import header_only_event
from cpqsync_sandbox.org.changes import ChangeBatch, RecordChange
from cpqsync_sandbox.org.schema import text
from producer_bridge.bridge import topic_router
from producer_bridge.cdc_decoder import ChangeEventDecoder
from producer_bridge.channel_stream import BridgeFatalError, ChannelStream
from producer_bridge.checkpoint_store import load_checkpoints
from producer_bridge.event_publisher import EventPublisher
from schemas.codec import Codec
from schemas.dead_letter import from_headers
from schemas.headers import REPLAY_ID_HEADER
from schemas.models import BridgeCheckpoint, ChangeEvent, ChangeType
from tests.bridge.kafka_read import read_topic, wait_for
from tests.bridge.pubsub_org import ORG_ID, USER_ID, PubSubOrg, StaticAuth, pubsub_org

pytestmark = pytest.mark.integration

CHANNEL = "/data/AccountChangeEvent"


@pytest.fixture
def org() -> Iterator[PubSubOrg]:
    with pubsub_org() as running:
        yield running


@pytest.fixture
def topics(kafka: str, unique: Callable[[str], str]) -> Topics:
    names = Topics(unique("br"))
    ensure_topics(kafka, names.all_topics(), partitions=2)
    return names


@pytest.fixture
def codec() -> Codec:
    return Codec()


def settings(**overrides: Any) -> BridgeSettings:
    base: dict[str, Any] = {
        "initial_position": "EARLIEST",
        "checkpoint_interval_s": 0.2,
        "reconnect_initial_backoff_s": 0.05,
        "reconnect_max_backoff_s": 0.5,
        "limit_exceeded_backoff_s": 0.3,
    }
    base.update(overrides)
    return BridgeSettings(**base)


class Runner:
    """Runs one ChannelStream in a thread, the way ``Bridge`` does."""

    def __init__(
        self,
        org: PubSubOrg,
        kafka: str,
        topics: Topics,
        codec: Codec,
        bridge: BridgeSettings,
        checkpoint: BridgeCheckpoint | None = None,
        channel: str = CHANNEL,
    ) -> None:
        self.auth = StaticAuth(org.settings())
        self.client = PubSubClient(self.auth, org.settings())  # type: ignore[arg-type]
        producer = Producer(producer_config(KafkaSettings(), kafka))
        publisher = EventPublisher(
            producer, codec, topic_router(topics), topics.dlq, topics.bridge_checkpoints, channel
        )
        self.stop_event = threading.Event()
        self.stream = ChannelStream(
            channel,
            self.client,
            ChangeEventDecoder(self.client, org_id=ORG_ID),
            publisher,
            bridge,
            checkpoint,
            self.stop_event,
        )
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.stream.run()
        except BaseException as exc:
            self.error = exc

    def __enter__(self) -> Runner:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        self.stream.interrupt()
        self.thread.join(30)
        assert not self.thread.is_alive()
        self.client.close()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def account_events(kafka: str, topics: Topics, codec: Codec) -> list[ChangeEvent]:
    topic = topics.object_topic("Account")
    return [codec.decode(r.value, topic) for r in read_topic(kafka, topic)]  # type: ignore[misc]


def create_accounts(org: PubSubOrg, count: int, prefix: str = "Acme") -> list[str]:
    return org.create_accounts(count, prefix)


def test_dml_appears_keyed_by_record_in_commit_order(
    org: PubSubOrg, kafka: str, topics: Topics, codec: Codec
) -> None:
    first, second = create_accounts(org, 2)
    org.update("Account", first, {"Phone": "+1 555 0100"})
    org.update("Account", first, {"Phone": None, "BillingCity": "Lyon"}, nulled=["Phone"])
    with Runner(org, kafka, topics, codec, settings()):
        wait_for(lambda: len(account_events(kafka, topics, codec)) == 4)
    messages = read_topic(kafka, topics.object_topic("Account"))
    events = [codec.decode(m.value, topics.object_topic("Account")) for m in messages]
    by_key: dict[bytes, list[ChangeEvent]] = {}
    for message, event in zip(messages, events, strict=True):
        assert isinstance(event, ChangeEvent)
        assert message.key == event.record_id.encode()
        assert message.headers[REPLAY_ID_HEADER] == event.replay_id
        by_key.setdefault(message.key or b"", []).append(event)
    history = by_key[first.encode()]
    assert [e.change_type for e in history] == [
        ChangeType.CREATE,
        ChangeType.UPDATE,
        ChangeType.UPDATE,
    ]
    assert "Phone" in history[1].changed_fields and history[1].value("Phone") == "+1 555 0100"
    assert "BillingAddress.City" in history[2].changed_fields
    assert history[2].value("BillingAddress") == {"City": "Lyon"}
    assert history[2].nulled_fields == ["Phone"] and history[2].value("Phone") is None
    assert [e.change_type for e in by_key[second.encode()]] == [ChangeType.CREATE]
    assert all(e.org_id == ORG_ID and e.channel == CHANNEL for e in events)  # type: ignore[union-attr]


def test_clean_restart_resumes_after_the_checkpoint_without_duplicates(
    org: PubSubOrg, kafka: str, topics: Topics, codec: Codec
) -> None:
    ids = create_accounts(org, 150)
    with Runner(org, kafka, topics, codec, settings()) as runner:
        wait_for(lambda: len(account_events(kafka, topics, codec)) == 150)
        wait_for(lambda: runner.stream.position is not None)
    checkpoint = load_checkpoints(kafka, topics.bridge_checkpoints, codec)[CHANNEL]
    assert checkpoint.replay_id == org.bus.events_after(CHANNEL, 0, 1000)[-1].replay_id
    ids += create_accounts(org, 40, "Later")
    with Runner(org, kafka, topics, codec, settings(), checkpoint):
        wait_for(lambda: len(account_events(kafka, topics, codec)) >= 190)
    events = account_events(kafka, topics, codec)
    assert sorted(e.record_id for e in events) == sorted(ids)


def test_server_disconnect_reconnects_and_loses_nothing(
    org: PubSubOrg, kafka: str, topics: Topics, codec: Codec
) -> None:
    before = (
        REGISTRY.get_sample_value(
            "cpqsync_bridge_reconnects_total", {"channel": CHANNEL, "reason": "unavailable"}
        )
        or 0.0
    )
    with Runner(org, kafka, topics, codec, settings()) as runner:
        ids = create_accounts(org, 100)
        wait_for(lambda: runner.stream.received >= 100)
        assert org.server.disconnect_streams() == 1
        ids += create_accounts(org, 100, "After")
        wait_for(lambda: {e.record_id for e in account_events(kafka, topics, codec)} >= set(ids))
    after = REGISTRY.get_sample_value(
        "cpqsync_bridge_reconnects_total", {"channel": CHANNEL, "reason": "unavailable"}
    )
    assert after is not None and after >= before + 1


def test_expired_replay_id_with_fail_stops_naming_the_channel(
    org: PubSubOrg, kafka: str, topics: Topics, codec: Codec
) -> None:
    create_accounts(org, 3)
    stale = BridgeCheckpoint(
        channel=CHANNEL, replay_id=org.bus.events_after(CHANNEL, 0, 10)[1].replay_id
    )
    org.bus.advance_clock(73)
    runner = Runner(org, kafka, topics, codec, settings(on_invalid_replay_id="fail"), stale)
    with runner:
        runner.thread.join(20)
    assert isinstance(runner.error, BridgeFatalError)
    assert CHANNEL in str(runner.error) and stale.replay_id.hex() in str(runner.error)
    assert account_events(kafka, topics, codec) == []


def test_expired_replay_id_with_earliest_resumes_from_oldest_retained(
    org: PubSubOrg, kafka: str, topics: Topics, codec: Codec
) -> None:
    create_accounts(org, 3, "Old")
    stale = BridgeCheckpoint(
        channel=CHANNEL, replay_id=org.bus.events_after(CHANNEL, 0, 10)[1].replay_id
    )
    org.bus.advance_clock(73)
    retained = create_accounts(org, 4, "New")
    with Runner(org, kafka, topics, codec, settings(on_invalid_replay_id="earliest"), stale):
        wait_for(lambda: len(account_events(kafka, topics, codec)) >= 4)
    assert sorted(e.record_id for e in account_events(kafka, topics, codec)) == sorted(retained)


def test_schema_change_mid_stream_is_decoded_without_restart(
    org: PubSubOrg, kafka: str, topics: Topics, codec: Codec
) -> None:
    with Runner(org, kafka, topics, codec, settings()) as runner:
        [account] = create_accounts(org, 1)
        wait_for(lambda: runner.stream.received == 1)
        org.publisher.add_field("Account", text("Tier__c", 40, custom=True))
        now = dt.datetime.now(dt.UTC)
        key = uuid.uuid4().hex
        change = RecordChange(
            "Account",
            "UPDATE",
            account,
            ["Tier__c"],
            [],
            {"Tier__c": "Gold"},
            None,
            key,
            1,
            now,
            99,
            USER_ID,
        )
        org.publisher.on_change(ChangeBatch(key, 99, now, USER_ID, [change]))
        wait_for(lambda: len(account_events(kafka, topics, codec)) == 2)
    update = account_events(kafka, topics, codec)[-1]
    assert update.changed_fields == ["Tier__c"]
    assert update.value("Tier__c") == "Gold"
    assert runner.client.schema_fetches == 2


def test_undecodable_payload_goes_to_the_dlq_and_the_stream_continues(
    org: PubSubOrg, kafka: str, topics: Topics, codec: Codec
) -> None:
    [good_before] = create_accounts(org, 1)
    schema = org.bus.schemas.current("Account")
    real = header_only_event(
        schema,
        "GAP_UPDATE",
        [good_before],
        transaction_key="t",
        commit_timestamp_ms=1,
        commit_number=1,
        commit_user=USER_ID,
    )
    garbage = b"\x02\xff\xff\xff\xff\x0f not avro"
    [bad_replay] = org.bus.publish([dataclasses.replace(real, payload=garbage)])
    [good_after] = create_accounts(org, 1, "After")
    with Runner(org, kafka, topics, codec, settings()):
        wait_for(lambda: len(account_events(kafka, topics, codec)) == 2)
        wait_for(lambda: len(read_topic(kafka, topics.dlq)) == 1)
    [dead] = read_topic(kafka, topics.dlq)
    assert dead.value == garbage
    assert dead.headers[REPLAY_ID_HEADER] == bad_replay
    assert dead.headers["cpqsync-dlq-origin-topic"] == CHANNEL.encode()
    assert dead.headers["cpqsync-sf-schema-id"] == schema.schema_id.encode()
    envelope = from_headers(list(dead.headers.items()))  # the one envelope every DLQ writer uses
    assert (envelope.origin_topic, envelope.origin_partition, envelope.origin_offset) == (
        CHANNEL,
        -1,
        -1,
    )
    assert envelope.error_class and envelope.error_message
    produced = sorted(e.record_id for e in account_events(kafka, topics, codec))
    assert produced == sorted([good_before, good_after])


def test_expired_session_logs_in_again_and_resumes(
    org: PubSubOrg, kafka: str, topics: Topics, codec: Codec
) -> None:
    with Runner(org, kafka, topics, codec, settings()) as runner:
        ids = create_accounts(org, 20)
        wait_for(lambda: runner.stream.received >= 20)
        assert org.server.expire_sessions() == 1
        ids += create_accounts(org, 20, "After")
        wait_for(lambda: {e.record_id for e in account_events(kafka, topics, codec)} >= set(ids))
        assert runner.auth.logins == 2


def test_spent_delivery_allocation_backs_off_and_alerts(
    org: PubSubOrg, kafka: str, topics: Topics, codec: Codec
) -> None:
    labels = {"channel": CHANNEL}
    before = REGISTRY.get_sample_value("cpqsync_bridge_limit_exceeded_total", labels) or 0.0
    org.server.set_delivery_allocation(0)
    ids = create_accounts(org, 5)
    with Runner(org, kafka, topics, codec, settings(limit_exceeded_backoff_s=1.0)):
        wait_for(
            lambda: (
                (REGISTRY.get_sample_value("cpqsync_bridge_limit_exceeded_total", labels) or 0)
                > before
            )
        )
        assert REGISTRY.get_sample_value("cpqsync_bridge_limit_backoff", labels) == 1.0
        org.server.set_delivery_allocation(None)
        wait_for(lambda: len(account_events(kafka, topics, codec)) == 5)
    assert sorted(e.record_id for e in account_events(kafka, topics, codec)) == sorted(ids)


def test_a_3s_get_schema_outage_loses_nothing_and_the_stream_keeps_running(
    org: PubSubOrg, kafka: str, topics: Topics, codec: Codec
) -> None:
    org.server.fail_get_schema(3.0)
    started = time.monotonic()
    with Runner(org, kafka, topics, codec, settings(reconnect_max_backoff_s=1.0)) as runner:
        ids = create_accounts(org, 40)
        wait_for(lambda: len(account_events(kafka, topics, codec)) >= 40, timeout=60)
        assert runner.error is None and runner.thread.is_alive()
    assert org.server.outages.refused["GetSchema"] >= 2  # the first fetch and a retry failed
    assert time.monotonic() - started >= 3.0
    events = account_events(kafka, topics, codec)
    assert sorted(e.record_id for e in events) == sorted(ids)  # none lost, none twice


def test_an_idle_channel_checkpoints_the_latest_id_with_no_commit_time_and_stays_young(
    org: PubSubOrg, kafka: str, topics: Topics, codec: Codec
) -> None:
    create_accounts(org, 3)
    latest = org.bus.events_after(CHANNEL, 0, 10)[-1].replay_id
    with Runner(org, kafka, topics, codec, settings()) as runner:
        wait_for(lambda: len(account_events(kafka, topics, codec)) == 3)

        def idle_checkpoint() -> BridgeCheckpoint | None:
            found = load_checkpoints(kafka, topics.bridge_checkpoints, codec).get(CHANNEL)
            return found if found is not None and found.commit_timestamp is None else None

        wait_for(lambda: idle_checkpoint() is not None)
        first = idle_checkpoint()
        assert first is not None and first.replay_id == latest
        # Quiet for longer than the keepalive: the checkpoint is rewritten, so its age
        # (time since the replay id was current) stays small instead of growing.
        time.sleep(3.0)
        wait_for(lambda: (idle_checkpoint() or first).updated_at > first.updated_at)
        age = REGISTRY.get_sample_value(
            "cpqsync_bridge_checkpoint_lag_seconds", {"channel": CHANNEL}
        )
        assert age is not None and age < 3.0
        assert runner.stream.current_since is not None
    (row,) = checkpoint_ages(
        kafka, topics.bridge_checkpoints, codec, dt.datetime.now(dt.UTC), extra_config={}
    )
    assert row.position_age_s is not None and row.position_age_s < 5.0
