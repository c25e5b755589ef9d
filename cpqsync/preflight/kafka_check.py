"""Kafka: the cluster answers a metadata request within a few seconds."""

from __future__ import annotations

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from cpqsync.kafka.client_log import unreachable_message
from cpqsync.kafka.clients import admin_config
from cpqsync.preflight.result import CheckResult
from cpqsync.settings import KafkaSettings

# Long enough for a loaded broker to answer, short enough to fail fast when none does.
KAFKA_TIMEOUT_S = 10.0


def check_kafka(
    kafka: KafkaSettings, bootstrap_servers: str | None = None, timeout_s: float = KAFKA_TIMEOUT_S
) -> CheckResult:
    servers = bootstrap_servers or kafka.bootstrap_servers
    if not servers:
        return CheckResult(
            "kafka", False, "kafka.bootstrap_servers is not set (CPQSYNC_KAFKA__BOOTSTRAP_SERVERS)"
        )
    admin = AdminClient(admin_config(servers, kafka.client_config))
    try:
        metadata = admin.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        error = exc.args[0] if exc.args else exc
        detail = error.str() if hasattr(error, "str") else str(error)
        return CheckResult("kafka", False, unreachable_message(servers, detail))
    return CheckResult("kafka", True, f"{len(metadata.brokers)} broker(s) at {servers}")
