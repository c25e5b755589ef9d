"""The bridge lease on a real broker: one leader per group, a joining standby does not take the
lease, and a leader that steps down has finished before the next one starts."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from cpqsync.kafka.topics import Topics, ensure_topics
from cpqsync.settings import BridgeSettings, KafkaSettings, Settings
from producer_bridge.leadership import Lease, lease_group
from tests.bridge.kafka_read import wait_for

pytestmark = pytest.mark.integration

SESSION_MS = 6_000


@dataclass
class Replica:
    """A lease holder whose "streaming" records when it starts and when it has stopped."""

    name: str
    log: list[tuple[str, str]]
    lock: threading.Lock
    stop: threading.Event = field(default_factory=threading.Event)
    term: threading.Event = field(default_factory=threading.Event)
    lease: Lease | None = None
    thread: threading.Thread | None = None

    def lead(self) -> None:
        self.term.clear()
        with self.lock:
            self.log.append((self.name, "start"))
        self.term.wait()
        time.sleep(0.3)  # flushing and checkpointing take a while
        with self.lock:
            self.log.append((self.name, "stopped"))

    def step_down(self) -> None:
        self.term.set()


@pytest.fixture
def replicas(kafka: str, unique: Callable[[str], str]) -> Iterator[Callable[..., Replica]]:
    prefix = unique("lease")
    topics = Topics(prefix)
    ensure_topics(kafka, topics.lease_topics(), partitions=1)
    log: list[tuple[str, str]] = []
    lock = threading.Lock()
    started: list[Replica] = []

    def start(name: str, channels: tuple[str, ...] = ("/data/AccountChangeEvent",)) -> Replica:
        settings = Settings(
            kafka=KafkaSettings(bootstrap_servers=kafka, topic_prefix=prefix),
            bridge=BridgeSettings(channels=list(channels), lease_session_timeout_ms=SESSION_MS),
        )
        replica = Replica(name, log, lock)
        replica.lease = Lease(settings, kafka, topics.bridge_lease, replica.lead, replica.step_down)
        replica.thread = threading.Thread(target=replica.lease.hold, args=(replica.stop,))
        replica.thread.start()
        started.append(replica)
        return replica

    yield start
    for replica in started:
        replica.stop.set()
    for replica in started:
        assert replica.thread is not None
        replica.thread.join(60)


def leading(replica: Replica) -> bool:
    assert replica.lease is not None
    return replica.lease.leading


def test_one_leader_a_sticky_lease_and_a_clean_handover(
    replicas: Callable[..., Replica],
) -> None:
    first = replicas("first")
    wait_for(lambda: leading(first), timeout=60)
    second = replicas("second")
    assert second.lease is not None
    wait_for(lambda: second.lease is not None and second.lease.joined, timeout=60)
    time.sleep(1.0)
    assert leading(first) and not leading(second)  # joining does not move the lease

    first.stop.set()  # a graceful shutdown hands over at once, not after a session timeout
    handed_over_at = time.monotonic()
    wait_for(lambda: leading(second), timeout=30)
    assert time.monotonic() - handed_over_at < SESSION_MS / 1000
    assert first.log == [("first", "start"), ("first", "stopped"), ("second", "start")]


def test_each_channel_set_has_its_own_leader(replicas: Callable[..., Replica]) -> None:
    accounts = replicas("accounts", ("/data/AccountChangeEvent",))
    orders = replicas("orders", ("/data/OrderChangeEvent",))
    wait_for(lambda: leading(accounts) and leading(orders), timeout=60)
    assert accounts.lease is not None and orders.lease is not None
    assert accounts.lease.group != orders.lease.group


def test_lease_group_follows_the_channel_set_not_its_order() -> None:
    one = Settings(bridge=BridgeSettings(channels=["/data/A", "/data/B"]))
    other = Settings(bridge=BridgeSettings(channels=["/data/B", "/data/A"]))
    third = Settings(bridge=BridgeSettings(channels=["/data/A"]))
    assert lease_group(one) == lease_group(other) != lease_group(third)
    named = Settings(bridge=BridgeSettings(lease_group="bridges-eu"))
    assert lease_group(named) == "bridges-eu"
