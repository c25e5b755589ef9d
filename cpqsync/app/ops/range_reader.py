"""Reading the records between two offsets of each partition, then stopping.

Operator commands read a bounded slice (a dead-letter topic, the tail of the
results topic) rather than following a topic forever. A partition is finished
when its last wanted record has been read, or when the broker says the
partition ends at or past the wanted end: transaction markers take offsets
that are never delivered, so the last record can sit before the end offset.
End-of-partition events short of the end are ignored, because Tansu reports
them at its undercounted watermark while records of the last batch still follow.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

from confluent_kafka import KafkaError, Message, TopicPartition

from cpqsync.app.ops.partition_bounds import PartitionKey, probe_consumer


class RangeReadTimeout(TimeoutError):
    """Some partitions could not be read to their end in time."""


class RangeReader:
    """Iterate over the records of ``ranges`` (``start`` inclusive, ``end`` exclusive).

    Records of one partition come in offset order; partitions interleave.
    ``finish`` stops reading a partition early (a search found what it wanted).
    """

    def __init__(
        self,
        bootstrap: str,
        ranges: Mapping[PartitionKey, tuple[int, int]],
        timeout_s: float = 30.0,
        extra_config: dict[str, Any] | None = None,
    ) -> None:
        self._bootstrap = bootstrap
        self._ranges = {key: span for key, span in ranges.items() if span[1] > span[0]}
        self._timeout_s = timeout_s
        self._config = {"isolation.level": "read_committed", **(extra_config or {})}
        self._pending: set[PartitionKey] = set()

    def finish(self, key: PartitionKey) -> None:
        self._pending.discard(key)

    def __iter__(self) -> Iterator[Message]:
        if not self._ranges:
            return
        consumer = probe_consumer(self._bootstrap, self._config)
        try:
            self._pending = set(self._ranges)
            consumer.assign(
                [TopicPartition(t, p, span[0]) for (t, p), span in self._ranges.items()]
            )
            deadline = time.monotonic() + self._timeout_s
            while self._pending:
                if time.monotonic() > deadline:
                    names = ", ".join(f"{t}[{p}]" for t, p in sorted(self._pending))
                    raise RangeReadTimeout(
                        f"could not read {names} to the end within {self._timeout_s:.0f}s"
                    )
                message = consumer.poll(0.2)
                if message is None:
                    continue
                key = (str(message.topic()), int(message.partition() or 0))
                if key not in self._pending:
                    continue
                end = self._ranges[key][1]
                offset = int(message.offset() or 0)
                error = message.error()
                if error is not None:
                    if error.code() != KafkaError._PARTITION_EOF:
                        raise RuntimeError(f"reading {key[0]}[{key[1]}]: {error.str()}")
                    if offset >= end:
                        self._pending.discard(key)
                    continue
                if offset >= end:
                    self._pending.discard(key)
                    continue
                yield message
                if offset + 1 >= end:
                    self._pending.discard(key)
        finally:
            consumer.close()
