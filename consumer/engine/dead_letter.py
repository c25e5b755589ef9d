"""Dead letters: messages the engine keeps aside instead of processing, with where they came from.

The dead letter carries the *original* key, bytes and headers, so it can be
inspected or replayed with the same tools as the source topic, plus an envelope
(origin topic, partition, offset, error, time, attempts) as headers. The engine
says what the envelope holds (``DeadLetterEnvelope``); how it is written is its
caller's (``EnvelopeHeaders``), since every writer of a dead-letter topic must
write it alike for its readers (the application's: ``consumer/dead_letter_envelope.py``).
A dead letter is produced like any other output, so it is acknowledged before the
commit that passes its offset.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from consumer.engine.errors import DeadLetterLimitExceeded
from consumer.engine.messages import Headers, Message, OutputMessage, PartitionId
from cpqsync.observability.logging import redact

# Beyond the shared envelope: which consumer group gave up, and the original record's time.
ORIGIN_GROUP = "cpqsync-dlq-origin-group"
ORIGIN_TIMESTAMP = "cpqsync-dlq-origin-timestamp-ms"

_MAX_ERROR_CHARS = 1_000


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class DeadLetterEnvelope:
    """Why a message was set aside: where it came from, the error (redacted), when, how often."""

    origin_topic: str
    origin_partition: int
    origin_offset: int
    error_class: str
    error_message: str
    first_failed_at: dt.datetime
    attempts: int


# How an envelope is written: headers appended to the original message's own.
EnvelopeHeaders = Callable[[DeadLetterEnvelope], Iterable[tuple[str, bytes]]]


class DeadLetters:
    """Builds dead-letter records and stops the engine after too many in a row.

    "In a row" is per partition, in offset order: a topic whose producer broke
    yields a run of undecodable messages, while a stray bad record does not.
    """

    def __init__(
        self,
        topic: str,
        group_id: str,
        max_consecutive: int,
        *,
        envelope: EnvelopeHeaders,
        clock: Callable[[], dt.datetime] = _now,
    ) -> None:
        if max_consecutive < 1:
            raise ValueError(f"max_consecutive must be >= 1, got {max_consecutive}")
        self.topic = topic
        self._envelope = envelope
        self._group_id = group_id
        self._max_consecutive = max_consecutive
        self._clock = clock
        self._consecutive: dict[PartitionId, int] = {}

    def record(self, message: Message[Any], error: BaseException) -> OutputMessage:
        letter = DeadLetterEnvelope(
            origin_topic=message.topic,
            origin_partition=message.partition,
            origin_offset=message.offset,
            error_class=f"{type(error).__module__}.{type(error).__qualname__}",
            error_message=redact(str(error))[:_MAX_ERROR_CHARS],
            first_failed_at=self._clock(),
            attempts=max(1, message.attempt),
        )
        origin: Headers = (*self._envelope(letter), (ORIGIN_GROUP, self._group_id.encode()))
        if message.timestamp_ms is not None:
            origin += ((ORIGIN_TIMESTAMP, str(message.timestamp_ms).encode()),)
        return OutputMessage(
            topic=self.topic,
            key=message.key,
            value=message.raw_value,
            headers=message.headers + origin,
        )

    def count(self, partition: PartitionId, error: BaseException) -> None:
        """Note one more dead letter in a row on ``partition``; raise at the limit."""
        count = self._consecutive.get(partition, 0) + 1
        self._consecutive[partition] = count
        if count >= self._max_consecutive:
            raise DeadLetterLimitExceeded(partition[0], partition[1], count, redact(str(error)))

    @property
    def runs(self) -> Mapping[PartitionId, int]:
        """Partitions with dead letters in a row so far (empty in the normal case).

        The intake checks this before calling ``reset`` for every decoded message.
        """
        return self._consecutive

    def reset(self, partition: PartitionId) -> None:
        """A message of ``partition`` decoded: the run of dead letters is broken."""
        if partition in self._consecutive:
            del self._consecutive[partition]
