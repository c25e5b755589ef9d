"""The engine logs Kafka client errors the way its caller configured, not a way of its own.

The engine acts on the client errors that concern it (fatal ones stop it, all brokers down is a
Kafka outage) and hands every other one to the ``error_cb`` in the properties it was given: for
the application that is ``cpqsync.kafka.client_log``, whose line names the setting to fix.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import pytest

from consumer.engine import BatchHandler, Message, Outcome, Processed
from cpqsync_sandbox.net import free_port
from tests.engine.support import Running, make_engine


class _Nothing(BatchHandler[Any]):
    def handle_batch(self, batch: Sequence[Message[Any]]) -> Sequence[Outcome]:
        return [Processed() for _ in batch]


def test_an_unreachable_cluster_is_logged_naming_the_setting(
    caplog: pytest.LogCaptureFixture,
) -> None:
    servers = f"127.0.0.1:{free_port()}"  # nobody listens: every connection is refused
    caplog.set_level(logging.WARNING, logger="cpqsync.kafka")
    engine = make_engine(
        servers,
        "cpqsync.test.client-errors",
        "client-errors",
        _Nothing(),
        {"reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 200},
        shutdown_deadline_s=2,
    )
    running = Running(engine)
    try:
        # Seen while the engine polls its consumer (whose callbacks that serves), not from
        # the producer's flush at shutdown.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not _unreachable_lines(caplog):
            time.sleep(0.1)
        lines = _unreachable_lines(caplog)
    finally:
        running.stop(timeout=60)
    assert lines, [r.getMessage() for r in caplog.records]
    assert f"Kafka is unreachable at {servers}" in lines[0]
    assert "check kafka.bootstrap_servers (CPQSYNC_KAFKA__BOOTSTRAP_SERVERS)" in lines[0]


def _unreachable_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.getMessage().startswith("Kafka is unreachable")
    ]
