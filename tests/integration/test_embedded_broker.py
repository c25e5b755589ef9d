"""The embedded broker never outlives its owner, even when the owner's body raises."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from confluent_kafka.admin import AdminClient

from cpqsync_sandbox.broker import EmbeddedBroker

pytestmark = pytest.mark.integration


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); its state in /proc says it is gone.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_broker_answers_metadata_and_is_gone_after_exit() -> None:
    with EmbeddedBroker() as broker:
        pid = broker.pid
        assert pid is not None
        metadata = AdminClient({"bootstrap.servers": broker.bootstrap_servers}).list_topics(
            timeout=5
        )
        assert metadata.brokers
    assert not _alive(pid)


def test_broker_is_stopped_when_the_body_raises() -> None:
    pid = None
    with pytest.raises(RuntimeError, match="boom"), EmbeddedBroker() as broker:
        pid = broker.pid
        raise RuntimeError("boom")
    assert pid is not None and not _alive(pid)


def test_broker_dies_with_a_killed_parent() -> None:
    script = (
        "from cpqsync_sandbox.broker import EmbeddedBroker; import time\n"
        "b = EmbeddedBroker().start(); print(b.pid, flush=True); time.sleep(60)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=os.getcwd()
    )
    assert parent.stdout is not None
    broker_pid = int(parent.stdout.readline())
    assert _alive(broker_pid)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while _alive(broker_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(broker_pid)
