"""Reading back what the bridge wrote, with the true end offsets (Tansu undercounts)."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from cpqsync.kafka.offsets import end_offsets
from schemas.codec import Codec
from schemas.models import AvroRecord


@dataclass(frozen=True)
class Read:
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]
    partition: int
    offset: int


def read_topic(bootstrap: str, topic: str, timeout: float = 20.0) -> list[Read]:
    """Every message on ``topic``, in offset order per partition."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"read-{uuid.uuid4()}",
            "enable.auto.commit": False,
        }
    )
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        partitions = [TopicPartition(topic, p) for p in meta.partitions]
        ends = end_offsets(bootstrap, partitions)
        wanted = {p.partition: ends[(topic, p.partition)] for p in partitions}
        pending = {p for p, end in wanted.items() if end > 0}
        out: list[Read] = []
        if not pending:
            return out
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in pending])
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is None or msg.error() is not None:
                continue
            partition, offset = int(msg.partition()), int(msg.offset())
            out.append(Read(msg.key(), msg.value(), dict(msg.headers() or []), partition, offset))
            if offset + 1 >= wanted[partition]:
                pending.discard(partition)
        assert not pending, f"could not read {topic} to its end"
        return sorted(out, key=lambda r: (r.partition, r.offset))
    finally:
        consumer.close()


class TopicCounter:
    """Counts messages arriving on a topic, live, from a background consumer."""

    def __init__(self, bootstrap: str, topic: str, partitions: int = 3) -> None:
        self.count = 0
        self._stop = threading.Event()
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"count-{uuid.uuid4()}",
                "enable.auto.commit": False,
            }
        )
        self._consumer.assign(
            [TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)]
        )
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            msg = self._consumer.poll(0.05)
            if msg is not None and msg.error() is None:
                self.count += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._consumer.close()


def decoded(bootstrap: str, topic: str, codec: Codec) -> list[AvroRecord]:
    return [codec.decode(r.value, topic) for r in read_topic(bootstrap, topic)]


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.2) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError("condition not met in time")
