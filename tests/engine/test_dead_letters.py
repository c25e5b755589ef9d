"""Undecodable messages go to the dead-letter topic intact; a run of them stops the consumer; a
message dead-lettered after its retries still delivers what it owes others (on_dead_letter)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from confluent_kafka import Producer

from consumer.dead_letter_envelope import envelope_headers
from consumer.engine import (
    BatchHandler,
    DeadLetterLimitExceeded,
    Failure,
    Message,
    Outcome,
    OutputMessage,
    Retry,
    RetryableError,
)
from consumer.engine.dead_letter import ORIGIN_GROUP
from schemas.dead_letter import from_headers
from tests.engine.support import (
    Recorder,
    Running,
    committed_offsets,
    end_of,
    make_engine,
    read_topic,
    wait_until,
)

pytestmark = pytest.mark.integration

GARBAGE = b"\xff\x00 not a number"


def _produce(kafka: str, topic: str, values: list[bytes]) -> None:
    producer = Producer({"bootstrap.servers": kafka, "enable.idempotence": True})
    for i, value in enumerate(values):
        producer.produce(topic, key=f"k{i % 7}".encode(), value=value, headers=[("trace", b"t1")])
    assert producer.flush(30) == 0


def test_poison_messages_are_dead_lettered_and_the_rest_processed(
    kafka: str, new_topic: Any, unique: Any, fast_group_config: dict[str, Any]
) -> None:
    topic, dlq = new_topic("poison"), new_topic("dlq")
    values = [str(i).encode() for i in range(100)]
    values[10] = values[50] = GARBAGE
    _produce(kafka, topic, values)
    group = unique("g")
    recorder = Recorder()
    engine = make_engine(
        kafka,
        topic,
        group,
        recorder,
        fast_group_config,
        dlq_max_consecutive=5,
        engine_kwargs={
            "decode_errors": (ValueError,),
            "dead_letter_topic": dlq,
            "dead_letter_envelope": envelope_headers,
        },
    )
    running = Running(engine)
    try:
        wait_until(lambda: recorder.count() >= 98, 60, "the good messages")
        wait_until(
            lambda: committed_offsets(kafka, group, topic, 1) == end_of(kafka, topic, 1),
            10,
            "the commit past the dead letters",
        )
    finally:
        running.stop()

    handled = sorted(value for _, value, _, _ in recorder.handled)
    assert handled == [i for i in range(100) if i not in (10, 50)]
    letters = read_topic(kafka, dlq, 1, expect=2)
    assert len(letters) == 2
    for letter, offset in zip(sorted(letters, key=lambda m: m.offset()), (10, 50), strict=True):
        headers = dict(letter.headers())
        assert letter.value() == GARBAGE, "the original bytes are kept"
        assert letter.key() == f"k{offset % 7}".encode()
        assert headers["trace"] == b"t1", "the original headers are kept"
        envelope = from_headers(letter.headers())  # the envelope every DLQ writer shares
        assert (envelope.origin_topic, envelope.origin_partition, envelope.origin_offset) == (
            topic,
            0,
            offset,
        )
        assert envelope.error_class == "builtins.ValueError"
        assert headers[ORIGIN_GROUP] == group.encode()


def test_a_run_of_dead_letters_stops_the_consumer_naming_the_partition(
    kafka: str, new_topic: Any, unique: Any, fast_group_config: dict[str, Any]
) -> None:
    topic, dlq = new_topic("broken"), new_topic("dlq")
    _produce(kafka, topic, [b"1", b"2", b"3"] + [GARBAGE] * 8 + [b"4"] * 10)
    group = unique("g")
    recorder = Recorder()
    engine = make_engine(
        kafka,
        topic,
        group,
        recorder,
        fast_group_config,
        dlq_max_consecutive=5,
        engine_kwargs={
            "decode_errors": (ValueError,),
            "dead_letter_topic": dlq,
            "dead_letter_envelope": envelope_headers,
        },
    )
    with pytest.raises(DeadLetterLimitExceeded) as stopped:
        engine.run()

    assert stopped.value.topic == topic and stopped.value.partition == 0
    assert f"topic {topic!r} partition 0" in str(stopped.value)
    assert sorted(value for _, value, _, _ in recorder.handled) == [1, 2, 3]
    assert len(read_topic(kafka, dlq, 1, expect=5)) == 5, "exactly the run up to the limit"
    # The dead letters are safe in the DLQ, so the commit may pass them, but no further.
    assert committed_offsets(kafka, group, topic, 1)[(topic, 0)] == 8


class OwingHandler(BatchHandler[int]):
    """Every message fails for good; each owes an output to ``owed_topic`` whatever happens
    to it (work carried for another key), and ``broken`` values cannot say what they owe."""

    max_batch_size = 1

    def __init__(self, owed_topic: str, broken: frozenset[int] = frozenset()) -> None:
        self.owed_topic = owed_topic
        self.broken = broken

    def handle_batch(self, batch: Sequence[Message[int]]) -> Sequence[Outcome]:
        return [Retry(RetryableError("still failing")) for _ in batch]

    def on_dead_letter(self, message: Message[int], failure: Failure) -> Sequence[OutputMessage]:
        if message.value in self.broken:
            raise RuntimeError("cannot say")
        assert failure.retries_exhausted
        return [OutputMessage(self.owed_topic, str(message.value).encode(), b"owed")]


def test_a_dead_lettered_message_still_delivers_what_it_owes_others(
    kafka: str, new_topic: Any, unique: Any, fast_group_config: dict[str, Any]
) -> None:
    topic, dlq, owed = new_topic("owing"), new_topic("dlq"), new_topic("owed")
    _produce(kafka, topic, [b"1", b"2", b"3"])
    group = unique("g")
    engine = make_engine(
        kafka,
        topic,
        group,
        OwingHandler(owed, broken=frozenset({2})),
        fast_group_config,
        max_attempts=2,
        retry_initial_backoff_ms=10,
        retry_max_backoff_ms=20,
        engine_kwargs={
            "dead_letter_topic": dlq,
            "dead_letter_envelope": envelope_headers,
        },
    )
    running = Running(engine)
    try:
        wait_until(
            lambda: committed_offsets(kafka, group, topic, 1) == end_of(kafka, topic, 1),
            60,
            "the commit past the dead letters",
        )
    finally:
        running.stop()

    letters = read_topic(kafka, dlq, 1, expect=3)
    assert sorted(letter.value() for letter in letters) == [b"1", b"2", b"3"]
    # Produced before the commit, with the dead letter; one whose handler failed to say what
    # it owes is dead-lettered alone rather than lost.
    assert sorted(m.value() for m in read_topic(kafka, owed, 1, expect=2)) == [b"1", b"3"]
