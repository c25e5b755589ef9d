"""Two ``cpqsync bridge`` replicas with leader election: SIGKILL the one streaming; the standby
takes over after the session timeout, nothing is lost, duplicates only after the checkpoint."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from cpqsync.kafka.topics import Topics, ensure_topics
from cpqsync_sandbox.org.simulator import OrgSimulator
from producer_bridge.checkpoint_store import load_checkpoints
from schemas.codec import Codec
from tests.bridge.kafka_read import TopicCounter, read_topic, wait_for
from tests.bridge.test_bridge_acceptance import (
    ACCOUNT,
    REPO,
    _bridge_env,
    events_on,
    settings_for,
)

pytestmark = pytest.mark.integration

SESSION_S = 6.0
TOTAL = 1_000
BACKLOG = 200


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def spawn(env: dict[str, str], log: Path, metrics_port: int) -> subprocess.Popen[bytes]:
    with log.open("wb") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "cpqsync", "bridge"],
            cwd=REPO,
            env={
                **env,
                "CPQSYNC_METRICS__ENABLED": "true",
                "CPQSYNC_METRICS__PORT": str(metrics_port),
            },
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


def probe(port: int) -> tuple[int, float]:
    """``/readyz``'s status and the ``cpqsync_bridge_leader`` gauge of one replica."""
    ready = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code
    metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    gauge = next(line for line in metrics.splitlines() if line.startswith("cpqsync_bridge_leader "))
    return ready, float(gauge.split()[1])


def said(log: Path, words: str) -> bool:
    return words in log.read_text(errors="replace")


@pytest.mark.parametrize("stop_signal", [signal.SIGKILL, signal.SIGTERM], ids=["kill", "term"])
def test_the_standby_takes_over_when_the_streaming_replica_stops(
    org_sim: OrgSimulator,
    kafka: str,
    unique: Callable[[str], str],
    tmp_path: Path,
    stop_signal: signal.Signals,
) -> None:
    """SIGKILL: handover after the session timeout, duplicates only after the checkpoint.
    SIGTERM: the leader checkpoints before leaving, so the standby starts at once, exactly
    where it stopped."""
    prefix = unique("standby")
    settings = settings_for(org_sim, kafka, prefix, [ACCOUNT])
    topics, codec = Topics(prefix), Codec()
    ensure_topics(kafka, topics.all_topics(), partitions=3)
    topic = topics.object_topic("Account")
    env = {
        **_bridge_env(settings),
        "CPQSYNC_BRIDGE__LEADER_ELECTION": "true",
        "CPQSYNC_BRIDGE__LEASE_SESSION_TIMEOUT_MS": str(int(SESSION_S * 1000)),
        "CPQSYNC_LOGGING__LEVEL": "INFO",
    }
    ids: list[str] = []

    def write_stream(begin: int, end: int) -> None:
        chunk = max(10, TOTAL // 100)
        for start in range(begin, end, chunk):
            ids.extend(
                org_sim.create("Account", {"Name": f"A{n}"})
                for n in range(start, min(start + chunk, end))
            )
            time.sleep(0.1)

    write_stream(0, BACKLOG)
    counter = TopicCounter(kafka, topic)
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first_port, second_port = free_port(), free_port()
    first = spawn(env, first_log, first_port)
    second: subprocess.Popen[bytes] | None = None
    writer = threading.Thread(target=write_stream, args=(BACKLOG, TOTAL))
    try:
        wait_for(lambda: said(first_log, "lease: acquired"), timeout=90)
        wait_for(lambda: counter.count >= BACKLOG // 2, timeout=60, interval=0.02)
        second = spawn(env, second_log, second_port)
        wait_for(lambda: said(second_log, "lease: standby"), timeout=90)
        # A waiting standby is ready (it is doing its job); the gauge tells who streams.
        assert probe(second_port) == (200, 0.0)
        assert probe(first_port) == (200, 1.0)
        writer.start()
        wait_for(lambda: counter.count >= TOTAL // 3, timeout=60, interval=0.02)
        assert not said(second_log, "lease: acquired")  # one replica streams at a time
    finally:
        stopped_at = time.monotonic()
        first.send_signal(stop_signal)
        first.wait(60)
        counter.close()
    assert second is not None
    try:
        produced_at_stop = len(read_topic(kafka, topic))
        checkpoint = load_checkpoints(kafka, topics.bridge_checkpoints, codec).get(ACCOUNT)
        wait_for(lambda: said(second_log, "lease: acquired"), timeout=60, interval=0.05)
        handover_s = time.monotonic() - stopped_at
        wait_for(lambda: probe(second_port) == (200, 1.0), timeout=30)
        writer.join(120)
        replay_order = [e.replay_id for e in org_sim.pubsub.bus.events_after(ACCOUNT, 0, TOTAL + 1)]
        assert len(replay_order) == TOTAL == len(ids)
        assert produced_at_stop < TOTAL, "the stop must land mid-stream"
        wait_for(
            lambda: {e.record_id for e in events_on(kafka, topic, codec)} >= set(ids), timeout=90
        )
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)
    assert second.returncode == 0, second_log.read_text()[-2000:]
    if stop_signal == signal.SIGKILL:
        # The coordinator notices the silence after the session timeout; joining takes a moment.
        assert handover_s < 2 * SESSION_S, handover_s
    else:
        assert first.returncode == 0, first_log.read_text()[-2000:]
        assert handover_s < SESSION_S, handover_s

    checkpointed = replay_order.index(checkpoint.replay_id) + 1 if checkpoint else 0
    counts = Counter(e.record_id for e in events_on(kafka, topic, codec))
    assert set(counts) == set(ids)  # none lost
    duplicates = sum(counts.values()) - TOTAL
    if stop_signal == signal.SIGKILL:
        assert duplicates <= produced_at_stop - checkpointed, (duplicates, produced_at_stop)
    else:
        assert checkpointed == produced_at_stop and duplicates == 0, (duplicates, checkpointed)
