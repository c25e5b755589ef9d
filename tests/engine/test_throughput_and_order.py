"""10,000 messages, 500 keys, random latency: all handled in key order, committed to the end,
and 32 workers are at least ten times faster than one."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.engine.support import (
    Recorder,
    Running,
    assert_key_order,
    committed_offsets,
    end_of,
    make_engine,
    produce_keyed,
    random_latency,
    wait_until,
)

pytestmark = pytest.mark.integration


def _consume_all(
    kafka: str, topic: str, group: str, total: int, workers: int, fast: dict[str, Any]
) -> tuple[Recorder, float]:
    """Run until ``total`` messages are handled; return the recorder and the processing rate.

    The rate is measured from the first handled message, so the group join
    (seconds on the embedded broker) does not blur the comparison.
    """
    recorder = Recorder(latency=random_latency(0.0, 0.020))
    running = Running(make_engine(kafka, topic, group, recorder, fast, workers=workers))
    try:
        wait_until(lambda: recorder.count() >= 1, 60, "the first message")
        started = time.monotonic()
        first = recorder.count()
        wait_until(lambda: recorder.count() >= total, 180, f"{total} messages")
        rate = (recorder.count() - first) / (time.monotonic() - started)
        wait_until(
            lambda: committed_offsets(kafka, group, topic, 4) == end_of(kafka, topic, 4),
            10,
            "the final commit",
        )
    finally:
        running.stop()
    return recorder, rate


def test_every_message_in_key_order_and_concurrency_pays(
    kafka: str, new_topic: Any, unique: Any, fast_group_config: dict[str, Any]
) -> None:
    big = new_topic("order", partitions=4)
    expected = produce_keyed(kafka, big, 10_000, 500)
    recorder, rate_32 = _consume_all(kafka, big, unique("g"), 10_000, 32, fast_group_config)

    assert recorder.overlaps == [], "two messages of one key ran at the same time"
    assert recorder.count() == 10_000, "each message handled once in a clean run"
    assert_key_order(recorder.by_key(), expected)

    # One worker: the same latency distribution on fewer messages; compare rates.
    small = new_topic("order1", partitions=4)
    produce_keyed(kafka, small, 300, 500)
    _, rate_1 = _consume_all(kafka, small, unique("g"), 300, 1, fast_group_config)
    print(f"rates: 32 workers {rate_32:.0f}/s, 1 worker {rate_1:.0f}/s")
    assert rate_32 >= 10 * rate_1, f"32 workers {rate_32:.0f}/s vs 1 worker {rate_1:.0f}/s"
