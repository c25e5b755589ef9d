"""What the engine is told, in its own terms: tuning and the Kafka clients' properties.

The engine knows nothing of the application's settings; the application converts its own
(``consumer.engine_settings``). Field meanings are the same as the application's
``consumer.*`` settings (docs/configuration.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EngineSettings:
    workers: int = 32
    max_in_flight: int = 1_000
    commit_interval_ms: int = 1_000
    commit_every_messages: int = 500
    max_attempts: int = 6
    retry_initial_backoff_ms: int = 200
    retry_max_backoff_ms: int = 30_000
    dlq_max_consecutive: int = 50
    # A partition is paused once this many of its messages are fetched but not committable.
    max_buffered_per_partition: int = 500
    # How long a revoked partition's running work may take before it is abandoned (capped
    # at half of the consumer's max.poll.interval.ms).
    revoke_deadline_s: float = 10.0
    shutdown_deadline_s: float = 30.0
    # Keep what the process built before the engine out of the collector's full passes.
    freeze_startup_heap: bool = True


@dataclass(frozen=True)
class KafkaClients:
    """librdkafka properties for the engine's consumer and producer.

    ``consumer`` holds at least ``bootstrap.servers``; the engine adds the group, and the
    properties its guarantees rest on (manual offset storage, read_committed) itself.
    """

    consumer: dict[str, Any]
    producer: dict[str, Any]
    # Outputs and offsets in one Kafka transaction (exactly-once for read_committed readers).
    exactly_once: bool = False
    # What an operator sets to point the clients at the cluster, named when Kafka is down.
    servers_setting: str = "bootstrap.servers"
