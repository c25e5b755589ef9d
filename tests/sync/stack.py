"""The whole sync path for end-to-end tests: org simulator -> bridge -> Kafka -> sync -> Stripe.

Every server listens on loopback on a free port and is stopped by the fixture that started it;
topics and groups are unique per test, so no test sees another's leftovers.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Producer
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from consumer.sync.results import reports_root
from consumer.sync.service import SyncService
from consumer.writeback import WritebackService
from cpqsync.kafka.topics import Topics, ensure_topics
from cpqsync.settings import (
    BridgeSettings,
    ConsumerSettings,
    KafkaSettings,
    MetricsSettings,
    SalesforceSettings,
    Settings,
    StripeSettings,
    SyncPreferences,
)
from cpqsync_sandbox.org.simulator import OrgSimulator
from cpqsync_sandbox.stripe_emulator import StripeEmulator
from producer_bridge.bridge import Bridge
from schemas.codec import Codec
from schemas.headers import schema_header
from schemas.models import ChangeEvent, ChangeType, SyncResult
from tests.bridge.kafka_read import read_topic
from tests.support.kafka_env import GROUP_HEARTBEAT_INTERVAL_MS, GROUP_SESSION_TIMEOUT_MS

GOOD_ORDERS = ("order_acme", "order_globex", "order_initech", "order_stark", "order_umbrella")
BAD_ORDERS = ("order_no_quote", "order_invoice_plan", "order_metered_qty2")


def org_settings(sim: OrgSimulator) -> SalesforceSettings:
    return SalesforceSettings(
        login_url=sim.login_url,
        auth_flow="jwt_bearer",
        client_id=sim.client_id,
        username=sim.username,
        private_key_file=sim.private_key_pem,
        ca_bundle=sim.ca_cert,
        pubsub_target=sim.grpc_target or "127.0.0.1:1",
        api_version=sim.api_version,
    )


def salesforce_env(sim: OrgSimulator) -> dict[str, str]:
    """The environment that points the CLI at the org simulator (``CPQSYNC_SALESFORCE__*``)."""
    sf = org_settings(sim)
    return {
        f"CPQSYNC_SALESFORCE__{name}": value
        for name, value in {
            "LOGIN_URL": sf.login_url,
            "AUTH_FLOW": "jwt_bearer",
            "CLIENT_ID": str(sf.client_id),
            "USERNAME": str(sf.username),
            "PRIVATE_KEY_FILE": str(sf.private_key_file),
            "CA_BUNDLE": str(sf.ca_bundle),
        }.items()
    }


def stack_settings(
    sim: OrgSimulator, emulator: StripeEmulator, kafka: str, prefix: str, **sync: Any
) -> Settings:
    return Settings(
        kafka=KafkaSettings(bootstrap_servers=kafka, topic_prefix=prefix, partitions=2),
        salesforce=org_settings(sim),
        stripe=StripeSettings(
            api_key=SecretStr(emulator.api_key),
            api_base=emulator.api_base,
            max_network_retries=2,
            timeout_s=5,
            requests_per_second=200,
        ),
        sync=SyncPreferences(multi_currency=True, **sync),
        consumer=ConsumerSettings(
            workers=8,
            commit_interval_ms=200,
            retry_initial_backoff_ms=50,
            retry_max_backoff_ms=1_000,
            max_attempts=8,
            session_timeout_ms=GROUP_SESSION_TIMEOUT_MS,
            max_poll_interval_ms=20_000,
            shutdown_deadline_s=10,
        ),
        bridge=BridgeSettings(
            checkpoint_interval_s=0.2,
            reconnect_initial_backoff_s=0.05,
            reconnect_max_backoff_s=0.5,
        ),
        metrics=MetricsSettings(enabled=False),
    )


FAST_GROUP = {"heartbeat.interval.ms": GROUP_HEARTBEAT_INTERVAL_MS}


@dataclass
class Stack:
    org: OrgSimulator
    stripe: StripeEmulator
    kafka: str
    settings: Settings
    codec: Codec = field(default_factory=Codec)
    _bridge: tuple[Bridge, threading.Thread] | None = None
    _syncs: list[SyncService] = field(default_factory=list)
    _writebacks: list[WritebackService] = field(default_factory=list)

    @property
    def topics(self) -> Topics:
        return Topics(self.settings.kafka.topic_prefix)

    def start_bridge(self) -> Bridge:
        bridge = Bridge(self.settings, self.kafka)
        thread = threading.Thread(target=bridge.run, daemon=True)
        thread.start()
        self._bridge = (bridge, thread)
        wait_for(bridge.ready, timeout=30)
        return bridge

    def start_sync(self, group: str | None = None, **kwargs: Any) -> SyncService:
        kwargs.setdefault("registry", CollectorRegistry())
        service = SyncService(
            self.settings,
            bootstrap_servers=self.kafka,
            group_id=group or f"{self.settings.kafka.topic_prefix}-sync",
            client_config=dict(FAST_GROUP),
            **kwargs,
        ).start()
        self._syncs.append(service)
        wait_for(service.ready, timeout=60)
        return service

    def start_writeback(self) -> WritebackService:
        """The writeback, stopped with the stack: for tests of what reaches Salesforce."""
        service = WritebackService(
            self.settings,
            bootstrap_servers=self.kafka,
            group_id=f"{self.settings.kafka.topic_prefix}-writeback",
            client_config=dict(FAST_GROUP),
            registry=CollectorRegistry(),
        ).start()
        self._writebacks.append(service)
        return service

    def track_sync(self, service: SyncService) -> None:
        """Stop ``service`` (started elsewhere) with the stack."""
        self._syncs.append(service)

    def stop_sync(self, service: SyncService) -> None:
        self._syncs.remove(service)
        service.stop()

    def stop_syncs(self) -> None:
        for service in list(self._syncs):
            self.stop_sync(service)

    def results(self) -> list[SyncResult]:
        topic = self.topics.sync_results
        return [
            self.codec.decode_as(r.value, topic, SyncResult) for r in read_topic(self.kafka, topic)
        ]

    def order_results(self, order_id: str) -> list[SyncResult]:
        return [r for r in self.results() if r.primary_record_id == order_id and reports_root(r)]

    def wait_for_results(
        self, predicate: Callable[[list[SyncResult]], bool], timeout: float = 60
    ) -> list[SyncResult]:
        deadline = time.monotonic() + timeout
        while True:
            results = self.results()
            if predicate(results):
                return results
            if time.monotonic() > deadline:
                raise AssertionError(f"results never satisfied the condition: {results}")
            time.sleep(0.3)

    def close(self) -> None:
        for service in list(self._syncs):
            service.stop()
        for writeback in self._writebacks:
            writeback.stop()
        if self._bridge is not None:
            bridge, thread = self._bridge
            bridge.stop()
            thread.join(30)


def roots_reported(results: list[SyncResult], ids: list[str]) -> bool:
    reported = {r.primary_record_id for r in results if reports_root(r)}
    return set(ids) <= reported


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def open_stack(
    sim: OrgSimulator, emulator: StripeEmulator, kafka: str, prefix: str, **sync: Any
) -> Iterator[Stack]:
    settings = stack_settings(sim, emulator, kafka, prefix, **sync)
    ensure_topics(kafka, Topics(prefix).all_topics(), partitions=2)
    stack = Stack(sim, emulator, kafka, settings)
    try:
        yield stack
    finally:
        stack.close()


class Events:
    """Change events straight onto the change topics, as the bridge would publish them."""

    def __init__(self, kafka: str, topics: Topics) -> None:
        self._producer = Producer({"bootstrap.servers": kafka})
        self._topics = topics
        self._codec = Codec()

    def changed(self, object_type: str, record_id: str, values: dict[str, Any]) -> None:
        event = ChangeEvent(
            object_type=object_type,
            record_id=record_id,
            change_type=ChangeType.UPDATE,
            changed_fields=sorted(values),
            values={k: ChangeEvent.encode_value(v) for k, v in values.items()},
            commit_timestamp=dt.datetime.now(dt.UTC),
        )
        topic = self._topics.object_topic(object_type)
        self._producer.produce(
            topic,
            self._codec.encode(event, topic),
            record_id.encode(),
            headers=[schema_header(event)],
        )

    def flush(self) -> None:
        assert self._producer.flush(15) == 0
