"""Catching up a backlog: librdkafka's ``fetch.queue.backoff.ms`` at its default vs ours.

When a partition's prefetch queue is over its threshold (``queued.min.messages``, 100,000
messages, or ``queued.max.messages.kbytes``), librdkafka postpones that partition's next fetch
by ``fetch.queue.backoff.ms`` (1 s by default). A backlog of more than that per partition
fills the queue at once; the engine drains it in a fraction of a second, then its handler
idles until the postponed fetch. Both sides consume the same backlog with the consumer
engine and the settings the sync and writeback consumers use (``ConsumerSettings()``), a
handler spending ``--batch-ms`` per batch (0: the fetch path alone), alternately,
``--repeat`` times each; figures are medians.

Reported per side: messages/s from the first batch to the last, the longest gap between two
handled batches, and the time spent in gaps over 100 ms (idle while a backlog waits).
Run from the repository root: ``python -m bench.catch_up [--messages N] [--repeat N]``.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

from confluent_kafka import Producer

from bench.engine import FAST_GROUP, Clock, Counting, broker
from consumer.engine import ConsumerEngine, Message, Outcome
from cpqsync.kafka.clients import FETCH_QUEUE_BACKOFF_MS
from cpqsync.kafka.topics import ensure_topics
from cpqsync.settings import ConsumerSettings, KafkaSettings

LIBRDKAFKA_DEFAULT_MS = 1000
IDLE_GAP_S = 0.1


def make_topic(bootstrap: str, messages: int, value_bytes: int, partitions: int) -> str:
    topic = f"bench-catch-up-{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, {topic: {}}, partitions=partitions)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50})
    payload = b"x" * value_bytes
    for i in range(messages):
        producer.produce(topic, key=f"k{i % 10_000}".encode(), value=payload)
        if i % 5_000 == 0:
            producer.poll(0)
    producer.flush(120)
    return topic


class GapClock(Clock):
    """A ``Clock`` that also notes the gaps between handled batches."""

    def __init__(self, expected: int) -> None:
        super().__init__(expected)
        self.gaps: list[float] = []
        self._last = 0.0

    def handled(self, count: int) -> None:
        now = time.monotonic()
        if self._last and not self.done_at:
            self.gaps.append(now - self._last)
        self._last = now
        super().handled(count)


class Working(Counting):
    """A handler that takes ``seconds`` per batch (I/O: the GIL is released)."""

    def __init__(self, clock: Clock, seconds: float) -> None:
        super().__init__(100, clock)
        self.seconds = seconds

    def handle_batch(self, batch: Sequence[Message[bytes | None]]) -> Sequence[Outcome]:
        if self.seconds:
            time.sleep(self.seconds)
        return super().handle_batch(batch)


def catch_up(
    bootstrap: str, topic: str, messages: int, backoff_ms: int, batch_s: float
) -> dict[str, float]:
    clock = GapClock(messages)
    client_config: dict[str, Any] = {**FAST_GROUP, "fetch.queue.backoff.ms": backoff_ms}
    engine = ConsumerEngine(
        topics=[topic],
        group_id=f"bench-catch-up-{uuid.uuid4().hex[:8]}",
        handler=Working(clock, batch_s),
        decode=lambda m: m.value,
        kafka=KafkaSettings(bootstrap_servers=bootstrap),
        settings=ConsumerSettings(),
        client_config=client_config,
    )
    thread = threading.Thread(target=engine.run, daemon=True)
    thread.start()
    try:
        while not clock.done_at:
            time.sleep(0.01)
    finally:
        engine.request_stop()
        thread.join(60)
    idle = [gap for gap in clock.gaps if gap > IDLE_GAP_S]
    return {
        "rate": clock.rate(),
        "seconds": clock.done_at - clock.first_at,
        "longest_gap": max(clock.gaps, default=0.0),
        "idle": sum(idle),
        "idle_gaps": len(idle),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", help="an existing broker; default: start the embedded one")
    parser.add_argument("--messages", type=int, default=400_000)
    parser.add_argument("--partitions", type=int, default=2)
    parser.add_argument(
        "--value-bytes",
        type=int,
        default=200,
        help="message size: the prefetch threshold (queued.max.messages.kbytes) is in bytes",
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--batch-ms", type=float, default=0.0, help="handler time per batch (<= 100 messages)"
    )
    args = parser.parse_args()
    sides = {
        f"librdkafka default ({LIBRDKAFKA_DEFAULT_MS} ms)": LIBRDKAFKA_DEFAULT_MS,
        f"cpqsync ({FETCH_QUEUE_BACKOFF_MS} ms)": FETCH_QUEUE_BACKOFF_MS,
    }
    results: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
    with broker(args.bootstrap) as bootstrap:
        topic = make_topic(bootstrap, args.messages, args.value_bytes, args.partitions)
        for _ in range(args.repeat):
            for name, backoff_ms in sides.items():
                results[name].append(
                    catch_up(bootstrap, topic, args.messages, backoff_ms, args.batch_ms / 1000)
                )
    print(
        f"Catch-up of {args.messages:,} messages of {args.value_bytes:,} bytes on "
        f"{args.partitions} partitions, handler {args.batch_ms:g} ms per batch, "
        f"median of {args.repeat} alternating runs\n"
    )
    print("| fetch.queue.backoff.ms | msg/s | seconds | longest gap (s) | idle > 0.1 s | gaps |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, runs in results.items():

        def median(key: str, runs: list[dict[str, float]] = runs) -> float:
            return statistics.median(run[key] for run in runs)

        print(
            f"| {name} | {median('rate'):,.0f} | {median('seconds'):.2f} | "
            f"{median('longest_gap'):.2f} | {median('idle'):.2f} | {median('idle_gaps'):.0f} |"
        )


if __name__ == "__main__":
    main()
