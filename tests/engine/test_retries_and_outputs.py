"""Retryable failures are retried then given up to on_give_up; permanent ones go there at once;
every outcome's outputs are produced (exactly once in a clean run) before offsets are committed."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest

from consumer.engine import (
    BatchHandler,
    Fail,
    Failure,
    Message,
    Outcome,
    OutputMessage,
    PermanentError,
    Processed,
    Retry,
    RetryableError,
)
from cpqsync.settings import KafkaSettings
from tests.engine.support import (
    Running,
    committed_offsets,
    end_of,
    make_engine,
    produce_keyed,
    read_topic,
    wait_until,
)

pytestmark = pytest.mark.integration


class FlakyHandler(BatchHandler[int]):
    """v % 10 == 3: fails twice then works; == 7: permanent; == 9: always retryable."""

    max_batch_size = 20

    def __init__(self, results_topic: str) -> None:
        self.results_topic = results_topic
        self.attempts: Counter[int] = Counter()
        self._lock = threading.Lock()

    def _result(self, value: int, status: str, attempts: int) -> OutputMessage:
        body = {"value": value, "status": status, "attempts": attempts}
        return OutputMessage(self.results_topic, json.dumps(body).encode(), str(value).encode())

    def handle_batch(self, batch: Sequence[Message[int]]) -> Sequence[Outcome]:
        outcomes: list[Outcome] = []
        for message in batch:
            with self._lock:
                self.attempts[message.value] += 1
            kind = message.value % 10
            if kind == 3 and message.attempt < 3:
                outcomes.append(Retry(RetryableError("flaky"), retry_after=0.01))
            elif kind == 7:
                outcomes.append(Fail(PermanentError("bad data")))
            elif kind == 9:
                outcomes.append(Retry(RetryableError("still down")))
            else:
                outcomes.append(Processed([self._result(message.value, "ok", message.attempt)]))
        return outcomes

    def on_give_up(self, message: Message[int], failure: Failure) -> Sequence[OutputMessage]:
        status = "exhausted" if failure.retries_exhausted else f"failed: {failure.error}"
        return [self._result(message.value, status, failure.attempts)]


def _run(
    kafka: str, new_topic: Any, unique: Any, fast: dict[str, Any], guarantee: str
) -> list[dict[str, Any]]:
    topic, results = new_topic("in", partitions=3), new_topic("results", partitions=2)
    produce_keyed(kafka, topic, 300, 40)
    group = unique("g")
    handler = FlakyHandler(results)
    engine = make_engine(
        kafka,
        topic,
        group,
        handler,
        fast,
        workers=8,
        max_attempts=3,
        retry_initial_backoff_ms=10,
        retry_max_backoff_ms=50,
        kafka_settings=KafkaSettings(bootstrap_servers=kafka, processing_guarantee=guarantee),
    )
    running = Running(engine)
    try:
        wait_until(
            lambda: committed_offsets(kafka, group, topic, 3) == end_of(kafka, topic, 3),
            60,
            "every offset to be committed",
        )
    finally:
        running.stop()
    assert handler.attempts[3] == 3 and handler.attempts[9] == 3 and handler.attempts[7] == 1
    return [json.loads(m.value()) for m in read_topic(kafka, results, 2, expect=300)]


def _check(results: list[dict[str, Any]]) -> None:
    assert sorted(r["value"] for r in results) == list(range(300)), "one result per message"
    by_value = {r["value"]: r for r in results}
    assert by_value[13] == {"value": 13, "status": "ok", "attempts": 3}
    assert by_value[17] == {"value": 17, "status": "failed: bad data", "attempts": 1}
    assert by_value[19] == {"value": 19, "status": "exhausted", "attempts": 3}
    assert by_value[20] == {"value": 20, "status": "ok", "attempts": 1}


def test_retries_give_ups_and_outputs_at_least_once(
    kafka: str, new_topic: Any, unique: Any, fast_group_config: dict[str, Any]
) -> None:
    _check(_run(kafka, new_topic, unique, fast_group_config, "at_least_once"))


def test_outputs_and_offsets_in_one_transaction_with_exactly_once(
    kafka: str, new_topic: Any, unique: Any, fast_group_config: dict[str, Any]
) -> None:
    _check(_run(kafka, new_topic, unique, fast_group_config, "exactly_once"))
