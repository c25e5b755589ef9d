"""The consumer engine's settings from the application's: the engine knows nothing of the latter.

Every role that runs an engine (sync stages, writeback) converts here, so the application's
``consumer.*`` and ``kafka.*`` settings mean the same to each of them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from consumer.engine.config import EngineSettings, KafkaClients
from cpqsync.kafka.clients import FETCH_QUEUE_BACKOFF_MS, base_config, producer_config
from cpqsync.settings import ConsumerSettings, KafkaSettings

_SHARED = [f.name for f in dataclasses.fields(EngineSettings)]


def engine_settings(consumer: ConsumerSettings, **overrides: Any) -> EngineSettings:
    """``consumer.*`` as the engine takes it; ``overrides`` replace single fields."""
    values = {name: getattr(consumer, name) for name in _SHARED}
    return EngineSettings(**{**values, **overrides})


def kafka_clients(
    kafka: KafkaSettings, consumer: ConsumerSettings, bootstrap_servers: str | None = None
) -> KafkaClients:
    return KafkaClients(
        consumer={
            "fetch.queue.backoff.ms": FETCH_QUEUE_BACKOFF_MS,  # kafka.client_config may override
            **base_config(kafka, bootstrap_servers),
            "session.timeout.ms": consumer.session_timeout_ms,
            "max.poll.interval.ms": consumer.max_poll_interval_ms,
        },
        producer=producer_config(kafka, bootstrap_servers),
        exactly_once=kafka.processing_guarantee == "exactly_once",
        servers_setting="kafka.bootstrap_servers",
    )
