"""A second member joins mid-run and later leaves: nothing lost, key order kept across handovers."""

from __future__ import annotations

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


def test_member_joins_and_leaves_without_loss(
    kafka: str, new_topic: Any, unique: Any, fast_group_config: dict[str, Any]
) -> None:
    topic = new_topic("rebal", partitions=4)
    expected = produce_keyed(kafka, topic, 3000, 100)
    group = unique("g")
    # One recorder shared by both members: a key running on both at once is an overlap.
    recorder = Recorder(latency=random_latency(0.002, 0.010))
    # A small per-partition buffer keeps partitions paused often, so some are paused when
    # they are revoked (librdkafka would keep them paused if they came back).
    small: dict[str, Any] = {"workers": 4, "max_buffered_per_partition": 20}
    first = Running(make_engine(kafka, topic, group, recorder, fast_group_config, **small))
    second: Running | None = None
    try:
        wait_until(lambda: recorder.count() >= 300, 60, "the first member to start")
        second = Running(make_engine(kafka, topic, group, recorder, fast_group_config, **small))
        wait_until(
            lambda: bool(second and second.engine.assignment), 60, "the second member to join"
        )
        assert len(first.engine.assignment) < 4, "the first member gave partitions away"
        wait_until(lambda: recorder.count() >= 1800, 90, "both members to work")
        second.stop()
        second = None
        wait_until(
            lambda: len(first.engine.assignment) == 4, 60, "the first member to take all back"
        )
        wait_until(lambda: recorder.count() >= 3000, 90, "all messages")
        wait_until(
            lambda: committed_offsets(kafka, group, topic, 4) == end_of(kafka, topic, 4),
            10,
            "the final commit",
        )
    finally:
        if second is not None:
            second.stop()
        first.stop()

    assert recorder.overlaps == [], "one key ran on two members at once"
    assert {value for _, value, _, _ in recorder.handled} == set(range(3000))
    assert_key_order(recorder.by_key(), expected)
    # Clean handovers commit what was done, so nothing needed redoing.
    assert recorder.count() == 3000
