"""Where tests get Kafka: an env-configured cluster, a container, or the embedded broker."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from cpqsync_sandbox.broker import EmbeddedBroker


def embedded_broker() -> bool:
    """Tests run against the embedded broker: no cluster configured, no container asked for."""
    return not os.environ.get("KAFKA_BOOTSTRAP_SERVERS") and (
        os.environ.get("CPQSYNC_TEST_DOCKER_KAFKA") != "1"
    )


# Tansu completes a group join or rebalance in about half the session timeout (~23 s with the
# defaults, ~3 s at 6 s, ~1 s at 2 s), and the suite joins groups hundreds of times. Kafka
# refuses session timeouts below its group.min.session.timeout.ms (6 s by default), so a
# configured cluster or the container gets 6 s. Tests only: production keeps its defaults.
GROUP_SESSION_TIMEOUT_MS = 2_000 if embedded_broker() else 6_000
GROUP_HEARTBEAT_INTERVAL_MS = GROUP_SESSION_TIMEOUT_MS // 6

FAST_GROUP_CONFIG: dict[str, Any] = {
    "session.timeout.ms": GROUP_SESSION_TIMEOUT_MS,
    "max.poll.interval.ms": 8000,
    "heartbeat.interval.ms": GROUP_HEARTBEAT_INTERVAL_MS,
}


def docker_available() -> bool:
    try:
        import docker  # testcontainers depends on it

        client = docker.from_env(timeout=2)
        client.ping()
        return True
    except Exception:
        return False


@contextlib.contextmanager
def kafka_bootstrap() -> Iterator[str]:
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        yield configured
        return
    if os.environ.get("CPQSYNC_TEST_DOCKER_KAFKA") == "1" and docker_available():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("apache/kafka:3.9.0").with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    with EmbeddedBroker() as broker:
        yield broker.bootstrap_servers
