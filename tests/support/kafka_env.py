"""Where tests get Kafka: an env-configured cluster, a container, or the embedded broker."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from cpqsync_sandbox.broker import EmbeddedBroker

# Tansu joins consumer groups slowly with default timeouts (~23 s); these make it ~3 s.
FAST_GROUP_CONFIG: dict[str, Any] = {
    "session.timeout.ms": 6000,
    "max.poll.interval.ms": 8000,
    "heartbeat.interval.ms": 1000,
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
