"""Two ``cpqsync bridge`` replicas with leader election, as separate processes on a real broker:
stop or freeze the one streaming; the standby takes over, nothing is lost, duplicates only after
the checkpoint."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from cpqsync.kafka.topics import Topics, ensure_topics
from cpqsync_sandbox.org.simulator import OrgSimulator
from producer_bridge.checkpoint_store import load_checkpoints
from schemas.codec import Codec
from schemas.models import BridgeCheckpoint
from tests.bridge.kafka_read import TopicCounter, read_topic, wait_for
from tests.bridge.test_bridge_acceptance import (
    ACCOUNT,
    REPO,
    _bridge_env,
    events_on,
    settings_for,
)
from tests.support.kafka_env import embedded_broker

pytestmark = pytest.mark.integration

# The embedded broker (re)joins a group in about half the session timeout, so a shorter lease
# session shortens every join and handover; a Kafka cluster refuses sessions under 6 s. A
# SIGKILL handover takes the session plus a rejoin (~1.6x the session at 3 s under load), hence
# 4 s rather than less: the 2x bound below keeps its margin.
SESSION_S = 4.0 if embedded_broker() else 6.0
# ~50 commits 0.1 s apart: still running when the leader stops, done soon after the handover.
TOTAL = 600
BACKLOG = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Replica:
    process: subprocess.Popen[bytes]
    log: Path
    port: int

    def said(self, words: str) -> bool:
        return words in self.log.read_text(errors="replace")

    def probe(self) -> tuple[int, float]:
        """``/readyz``'s status and the ``cpqsync_bridge_leader`` gauge."""
        base = f"http://127.0.0.1:{self.port}"
        ready = requests.get(f"{base}/readyz", timeout=5).status_code
        metrics = requests.get(f"{base}/metrics", timeout=5).text
        gauge = next(
            line for line in metrics.splitlines() if line.startswith("cpqsync_bridge_leader ")
        )
        return ready, float(gauge.split()[1])

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(60)


@dataclass
class Pair:
    """The org, the Account topic and two replicas: the first streaming, the second waiting,
    with DML still arriving when :meth:`start` returns."""

    org_sim: OrgSimulator
    kafka: str
    prefix: str
    tmp_path: Path
    ids: list[str] = field(default_factory=list)
    replicas: list[Replica] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.topics = Topics(self.prefix)
        self.topic = self.topics.object_topic("Account")
        self.codec = Codec()
        ensure_topics(self.kafka, self.topics.all_topics(), partitions=3)
        settings = settings_for(self.org_sim, self.kafka, self.prefix, [ACCOUNT])
        self.env = {
            **_bridge_env(settings),
            "CPQSYNC_BRIDGE__LEADER_ELECTION": "true",
            "CPQSYNC_BRIDGE__LEASE_SESSION_TIMEOUT_MS": str(int(SESSION_S * 1000)),
            "CPQSYNC_LOGGING__LEVEL": "INFO",
            "CPQSYNC_METRICS__ENABLED": "true",
        }
        self.writer = threading.Thread(target=self.write_stream, args=(BACKLOG, TOTAL))

    def write_stream(self, begin: int, end: int) -> None:
        chunk = max(10, TOTAL // 100)  # commits 0.1 s apart: stops land mid-stream
        for start in range(begin, end, chunk):
            self.ids.extend(
                self.org_sim.create("Account", {"Name": f"A{n}"})
                for n in range(start, min(start + chunk, end))
            )
            time.sleep(0.1)

    def spawn(self, name: str) -> Replica:
        log, port = self.tmp_path / f"{name}.log", free_port()
        with log.open("wb") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-m", "cpqsync", "bridge"],
                cwd=REPO,
                env={**self.env, "CPQSYNC_METRICS__PORT": str(port)},
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        replica = Replica(process, log, port)
        self.replicas.append(replica)
        return replica

    def start(self) -> tuple[Replica, Replica]:
        self.write_stream(0, BACKLOG)
        counter = TopicCounter(self.kafka, self.topic)
        try:
            first = self.spawn("first")
            wait_for(lambda: first.said("lease: acquired"), timeout=90)
            wait_for(lambda: counter.count >= BACKLOG // 2, timeout=60, interval=0.02)
            second = self.spawn("second")
            wait_for(lambda: second.said("lease: standby"), timeout=90)
            # A waiting standby is ready (waiting is its job); the gauge tells who streams.
            assert second.probe() == (200, 0.0)
            assert first.probe() == (200, 1.0)
            self.writer.start()
            wait_for(lambda: counter.count >= TOTAL // 3, timeout=60, interval=0.02)
            assert not second.said("lease: acquired")  # one replica streams at a time
        finally:
            counter.close()
        return first, second

    def produced(self) -> int:
        return len(read_topic(self.kafka, self.topic))

    def checkpoint(self) -> BridgeCheckpoint | None:
        return load_checkpoints(self.kafka, self.topics.bridge_checkpoints, self.codec).get(ACCOUNT)

    def checkpointed(self, checkpoint: BridgeCheckpoint | None) -> int:
        """How many of the channel's events the checkpoint covers."""
        if checkpoint is None:
            return 0
        order = [e.replay_id for e in self.org_sim.pubsub.bus.events_after(ACCOUNT, 0, TOTAL + 1)]
        return order.index(checkpoint.replay_id) + 1

    def finish(self) -> Counter[str]:
        """Wait for every record on the topic; the events published per record."""
        self.writer.join(120)
        assert len(self.ids) == TOTAL
        wait_for(
            lambda: (
                {e.record_id for e in events_on(self.kafka, self.topic, self.codec)}
                >= set(self.ids)
            ),
            timeout=90,
        )
        counts = Counter(e.record_id for e in events_on(self.kafka, self.topic, self.codec))
        assert set(counts) == set(self.ids)  # none lost
        return counts


@pytest.fixture
def pair(
    org_sim: OrgSimulator, kafka: str, unique: Callable[[str], str], tmp_path: Path
) -> Iterator[Pair]:
    harness = Pair(org_sim, kafka, unique("standby"), tmp_path)
    try:
        yield harness
    finally:
        for replica in harness.replicas:
            replica.stop()


def test_sigkill_of_the_streaming_replica_hands_over_after_the_session_timeout(
    pair: Pair,
) -> None:
    first, second = pair.start()
    killed_at = time.monotonic()
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(10)
    produced_at_kill, checkpoint = pair.produced(), pair.checkpoint()
    assert produced_at_kill < TOTAL, "the kill must land mid-stream"

    wait_for(lambda: second.said("lease: acquired"), timeout=60, interval=0.05)
    handover_s = time.monotonic() - killed_at
    # The coordinator notices the silence after the session timeout; rejoining takes a moment.
    assert handover_s < 2 * SESSION_S, handover_s
    wait_for(lambda: second.probe() == (200, 1.0), timeout=30)

    counts = pair.finish()
    assert second.stop() == 0, second.log.read_text()[-2000:]
    duplicates = sum(counts.values()) - TOTAL
    assert duplicates <= produced_at_kill - pair.checkpointed(checkpoint), duplicates


def test_sigterm_hands_over_at_once_exactly_where_the_leader_stopped(pair: Pair) -> None:
    first, second = pair.start()
    stopped_at = time.monotonic()
    assert first.stop() == 0, first.log.read_text()[-2000:]
    produced_at_stop, checkpoint = pair.produced(), pair.checkpoint()
    assert produced_at_stop < TOTAL, "the stop must land mid-stream"
    # The leader wrote its final checkpoint before leaving the group.
    assert pair.checkpointed(checkpoint) == produced_at_stop

    wait_for(lambda: second.said("lease: acquired"), timeout=60, interval=0.05)
    assert time.monotonic() - stopped_at < SESSION_S

    counts = pair.finish()
    assert second.stop() == 0, second.log.read_text()[-2000:]
    assert sum(counts.values()) == TOTAL  # no duplicates at all


def test_a_frozen_leader_loses_the_lease_and_steps_down_when_it_wakes(pair: Pair) -> None:
    """SIGSTOP for longer than the session timeout: the standby takes over; on SIGCONT the old
    leader learns it lost the lease and stops streaming instead of competing."""
    first, second = pair.start()
    first.process.send_signal(signal.SIGSTOP)
    try:
        wait_for(lambda: second.said("lease: acquired"), timeout=60, interval=0.05)
    finally:
        first.process.send_signal(signal.SIGCONT)
    wait_for(lambda: first.said("lease: released"), timeout=60)
    wait_for(lambda: first.probe() == (200, 0.0), timeout=30)
    wait_for(lambda: second.probe() == (200, 1.0), timeout=30)

    pair.finish()  # nothing lost
    assert first.stop() == 0, first.log.read_text()[-2000:]
    assert second.stop() == 0, second.log.read_text()[-2000:]
    assert first.log.read_text().count("lease: acquired") == 1  # it did not take it back
