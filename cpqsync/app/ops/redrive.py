"""Sending dead letters back where they came from, exactly as they first arrived.

The original key, value and headers go back to the origin topic and partition
(the partition keeps per-key order even if producers used another partitioner);
the failure envelope stays behind on the dead-letter topic. Consumers are
idempotent, so redriving a letter twice costs a duplicate, not a wrong result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from cpqsync.app.ops.dead_letter_view import DeadLetterView


@dataclass
class RedriveOutcome:
    sent: list[DeadLetterView] = field(default_factory=list)
    skipped: list[tuple[DeadLetterView, str]] = field(default_factory=list)
    failed: list[tuple[DeadLetterView, str]] = field(default_factory=list)


def redrive(
    producer_config: dict[str, Any],
    letters: list[DeadLetterView],
    existing_partitions: dict[str, int],
    timeout_s: float = 30.0,
) -> RedriveOutcome:
    """Produce each letter to its origin; ``existing_partitions`` maps topic → partition count."""
    outcome = RedriveOutcome()
    producer = Producer({**producer_config, "client.id": "cpqsync-dlq-redrive"})
    pending: dict[int, DeadLetterView] = {}

    def delivered(letter: DeadLetterView) -> Any:
        def callback(error: KafkaError | None, _message: Message) -> None:
            pending.pop(id(letter), None)
            if error is None:
                outcome.sent.append(letter)
            else:
                outcome.failed.append((letter, error.str()))

        return callback

    for letter in letters:
        blocker = letter.redrive_blocker
        topic = letter.origin_topic or ""
        if blocker is None and topic not in existing_partitions:
            blocker = f"its origin topic {topic} does not exist"
        if blocker is not None:
            outcome.skipped.append((letter, blocker))
            continue
        partition = letter.origin_partition
        kwargs: dict[str, Any] = {}
        if partition is not None and partition < existing_partitions[topic]:
            kwargs["partition"] = partition
        pending[id(letter)] = letter
        headers: list[tuple[str, str | bytes | None]] = list(letter.original_headers)
        producer.produce(
            topic,
            value=letter.value,
            key=letter.key,
            headers=headers,
            on_delivery=delivered(letter),
            **kwargs,
        )
        producer.poll(0)
    producer.flush(timeout_s)
    for letter in list(pending.values()):
        outcome.failed.append((letter, "not acknowledged in time"))
    return outcome
