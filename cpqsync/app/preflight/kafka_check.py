"""Kafka: the cluster answers a metadata request within a few seconds.

The request is retried in short attempts while the client reports why it fails: when
every broker refuses or cannot be resolved (``_ALL_BROKERS_DOWN``, ``_RESOLVE``) for
:data:`REFUSED_GIVE_UP_S`, nothing is listening and waiting longer only delays the one
line the operator needs; a broker that is merely slow gets the whole timeout.
"""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from cpqsync.app.preflight.result import CheckResult
from cpqsync.kafka.client_log import unreachable_message
from cpqsync.kafka.clients import admin_config
from cpqsync.settings import KafkaSettings

# Long enough for a loaded broker to answer, short enough to fail fast when none does.
KAFKA_TIMEOUT_S = 10.0
REFUSED_GIVE_UP_S = 3.0
_ATTEMPT_S = 1.0
_NOBODY_THERE = {KafkaError._ALL_BROKERS_DOWN, KafkaError._RESOLVE}


def check_kafka(
    kafka: KafkaSettings, bootstrap_servers: str | None = None, timeout_s: float = KAFKA_TIMEOUT_S
) -> CheckResult:
    servers = bootstrap_servers or kafka.bootstrap_servers
    if not servers:
        return CheckResult(
            "kafka", False, "kafka.bootstrap_servers is not set (CPQSYNC_KAFKA__BOOTSTRAP_SERVERS)"
        )
    errors: list[KafkaError] = []
    # Our own error_cb: the failure is reported once, as this check's result, not logged too.
    config: dict[str, Any] = {**admin_config(servers, kafka.client_config)}
    config["error_cb"] = errors.append
    admin = AdminClient(config)
    started = time.monotonic()
    while True:
        elapsed = time.monotonic() - started
        try:
            metadata = admin.list_topics(timeout=min(_ATTEMPT_S, max(0.1, timeout_s - elapsed)))
        except KafkaException as exc:
            admin.poll(0)  # serves error_cb: why the brokers do not answer
            elapsed = time.monotonic() - started
            nobody_there = any(e.code() in _NOBODY_THERE for e in errors)
            if elapsed >= timeout_s or (nobody_there and elapsed >= REFUSED_GIVE_UP_S):
                return CheckResult("kafka", False, unreachable_message(servers, _detail(exc)))
            continue
        return CheckResult("kafka", True, f"{len(metadata.brokers)} broker(s) at {servers}")


def _detail(exc: KafkaException) -> str:
    error = exc.args[0] if exc.args else exc
    return error.str() if isinstance(error, KafkaError) else str(error)
