"""The values that cross the engine's boundary: consumed messages and the outputs handlers emit.

Handlers never see confluent-kafka objects: a ``Message`` is an immutable copy
taken on the polling thread, so worker threads can read it freely and tests can
build one without a broker. It is a named tuple because one is built per
consumed record on the polling thread, and a tuple is the cheapest immutable
record Python has (a frozen dataclass costs several times more to construct,
which showed as the largest single cost of the no-op benchmark).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import repeat
from operator import is_, itemgetter
from typing import Any, Generic, NamedTuple, TypeVar

from confluent_kafka import Message as KafkaMessage

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

# (topic, partition): how the engine names a partition everywhere.
PartitionId = tuple[str, int]
Headers = tuple[tuple[str, bytes], ...]


class Message(NamedTuple, Generic[T_co]):
    """One consumed record with its decoded ``value`` and the bytes it was decoded from."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: T_co
    raw_value: bytes | None
    headers: Headers = ()
    timestamp_ms: int | None = None
    # 1 on first delivery to the handler, incremented on every retry.
    attempt: int = 1

    @property
    def partition_id(self) -> PartitionId:
        return (self.topic, self.partition)

    def header(self, name: str) -> bytes | None:
        """The last value of header ``name`` (Kafka allows repeats; the newest wins)."""
        found: bytes | None = None
        for key, value in self.headers:
            if key == name:
                found = value
        return found


@dataclass(frozen=True, slots=True)
class OutputMessage:
    """A record a handler asks the engine to produce before its source offset is committed."""

    topic: str
    value: bytes | None
    key: bytes | None = None
    headers: Headers = field(default_factory=tuple)


# The named tuple's own constructor goes through Python-level argument
# handling; building from a ready tuple skips it (what ``_make`` does, minus a call).
_new_tuple = tuple.__new__


def from_kafka(msg: Any) -> Message[bytes | None]:
    """Copy a confluent-kafka message into our immutable type (the value still undecoded)."""
    _, timestamp = msg.timestamp()
    headers = _headers(msg.headers())
    value = msg.value()
    fields = (
        msg.topic(),
        msg.partition(),
        msg.offset(),
        msg.key(),
        value,
        value,
        headers,
        timestamp if timestamp > 0 else None,
        1,
    )
    built: Message[bytes | None] = _new_tuple(Message, fields)
    return built


# Building a batch runs per message only in C: each column is read with the
# message type's own method descriptors through ``map``, and rows become
# ``Message`` tuples through ``tuple.__new__`` bound to the class. A Python
# function per message (``from_kafka``) cost more than everything else the
# polling thread did for a no-op handler.
_build = partial(_new_tuple, Message)
_second = itemgetter(1)


def from_kafka_batch(raws: Sequence[Any]) -> list[Message[bytes | None]]:
    """``from_kafka`` over a fetched batch free of errors, at a fraction of the cost per message."""
    values = list(map(KafkaMessage.value, raws))
    stamps: list[int] = list(map(_second, map(KafkaMessage.timestamp, raws)))
    timestamps: list[int] | list[int | None] = stamps
    if stamps and min(stamps) <= 0:  # not available: None, as from_kafka has it
        timestamps = [stamp if stamp > 0 else None for stamp in stamps]
    raw_headers = list(map(KafkaMessage.headers, raws))
    headers: Iterable[Headers] = (
        [_headers(found) for found in raw_headers] if any(raw_headers) else repeat(())
    )
    return list(
        map(
            _build,
            zip(
                map(KafkaMessage.topic, raws),
                map(KafkaMessage.partition, raws),
                map(KafkaMessage.offset, raws),
                map(KafkaMessage.key, raws),
                values,
                values,
                headers,
                timestamps,
                repeat(1),
                strict=False,  # repeat() is endless; the other columns are of one length
            ),
        )
    )


def _headers(raw_headers: Any) -> Headers:
    if not raw_headers:
        return ()
    return tuple((name, value if value is not None else b"") for name, value in raw_headers)


def with_values(messages: list[Message[Any]], values: list[T]) -> list[Message[T]]:
    """``messages`` carrying the decoded ``values``, their raw bytes kept in ``raw_value``.

    When decoding passed every value through (the very bytes object), that is
    ``messages`` itself: a no-op decode need not cost a second copy of each message.
    """
    if not messages or all(map(is_, values, map(_value, messages))):
        return messages
    columns = zip(*messages, strict=True)
    topics, partitions, offsets, keys, _, raws, headers, stamps, attempts = columns
    rows = zip(
        topics, partitions, offsets, keys, values, raws, headers, stamps, attempts, strict=True
    )
    return list(map(_build, rows))


_value = itemgetter(4)


def with_value(message: Message[Any], value: T) -> Message[T]:
    """``message`` carrying the decoded ``value`` (its raw bytes stay in ``raw_value``)."""
    topic, partition, offset, key, _, raw_value, headers, timestamp_ms, attempt = message
    fields = (topic, partition, offset, key, value, raw_value, headers, timestamp_ms, attempt)
    built: Message[T] = _new_tuple(Message, fields)
    return built


def next_attempt(message: Message[T]) -> Message[T]:
    """``message`` as handed to the handler again after a retryable failure."""
    return message._replace(attempt=message.attempt + 1)
