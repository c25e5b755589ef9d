"""librdkafka configuration for our producers and consumers, built from settings.

One place decides the producer properties our guarantees rest on (idempotence, acks=all) so
no role can forget one; the consumer engine sets its own consumers' (manual offset storage).
"""

from __future__ import annotations

from typing import Any

from cpqsync.kafka.client_log import client_logging
from cpqsync.settings import KafkaSettings

ClientConfig = dict[str, Any]

# librdkafka postpones a partition's next fetch by this long once its prefetch queue is over
# its threshold (default 1,000 ms). The engine's backpressure holds and pauses partitions with
# full buffers, so while a backlog is caught up the queues are full often, and the handler
# then idled until the postponed fetch: bench/catch_up.py measured it (docs/benchmarks.md).
# A short backoff costs an extra fetch request now and then, which a backlog pays back.
FETCH_QUEUE_BACKOFF_MS = 10


def base_config(kafka: KafkaSettings, bootstrap_servers: str | None = None) -> ClientConfig:
    servers = bootstrap_servers or kafka.bootstrap_servers
    if not servers:
        raise ValueError(
            "kafka.bootstrap_servers is not set; start the embedded broker or configure a cluster"
        )
    return {"bootstrap.servers": servers, **client_logging(servers), **kafka.client_config}


def admin_config(
    bootstrap_servers: str, extra_config: dict[str, Any] | None = None
) -> ClientConfig:
    """An admin or one-off client's properties: the cluster, our logging, the user's extras."""
    return {
        "bootstrap.servers": bootstrap_servers,
        **client_logging(bootstrap_servers),
        **(extra_config or {}),
    }


def producer_config(kafka: KafkaSettings, bootstrap_servers: str | None = None) -> ClientConfig:
    return {
        **base_config(kafka, bootstrap_servers),
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "compression.type": "lz4",
    }
