"""The values that cross the engine's boundary: consumed messages and the outputs handlers emit.

Handlers never see confluent-kafka objects: a ``Message`` is an immutable copy
taken on the polling thread, so worker threads can read it freely and tests can
build one without a broker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

# (topic, partition): how the engine names a partition everywhere.
PartitionId = tuple[str, int]
Headers = tuple[tuple[str, bytes], ...]


@dataclass(frozen=True, slots=True)
class Message(Generic[T_co]):
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


def from_kafka(msg: Any) -> Message[bytes | None]:
    """Copy a confluent-kafka message into our immutable type (the value still undecoded)."""
    _, timestamp = msg.timestamp()
    raw_headers = msg.headers()
    headers: Headers = (
        tuple((name, value if value is not None else b"") for name, value in raw_headers)
        if raw_headers
        else ()
    )
    value = msg.value()
    return Message(
        topic=msg.topic(),
        partition=msg.partition(),
        offset=msg.offset(),
        key=msg.key(),
        value=value,
        raw_value=value,
        headers=headers,
        timestamp_ms=timestamp if timestamp > 0 else None,
    )
