"""Consumer engine throughput, side by side with what it is compared to, in one run.

1. No-op handler: messages/s through the engine vs a bare confluent-kafka
   ``consume`` loop over the same topic (target: the engine reaches >= 50%).
2. Simulated I/O: a handler sleeping 200 ms per message; messages/s vs the
   ideal ``workers / latency`` (target: >= 80%).

Rates are measured from the first message handled, so the consumer group join
(seconds on the embedded broker) is not counted. Run from the repository root:
``python -m bench.engine [--bootstrap HOST:PORT] [--messages N]``.
"""

from __future__ import annotations

import argparse
import contextlib
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from confluent_kafka import Consumer, Producer

from consumer.engine import (
    BatchHandler,
    ConsumerEngine,
    Message,
    Outcome,
    PerMessageHandler,
    Processed,
)
from cpqsync.kafka.topics import ensure_topics
from cpqsync.sandbox.broker import EmbeddedBroker
from cpqsync.settings import ConsumerSettings, KafkaSettings

FAST_GROUP = {
    "session.timeout.ms": 6000,
    "max.poll.interval.ms": 8000,
    "heartbeat.interval.ms": 1000,
}


@contextlib.contextmanager
def broker(bootstrap: str | None) -> Iterator[str]:
    if bootstrap:
        yield bootstrap
        return
    with EmbeddedBroker() as embedded:
        yield embedded.bootstrap_servers


def make_topic(bootstrap: str, messages: int, keys: int, partitions: int = 4) -> str:
    topic = f"bench-engine-{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, {topic: {}}, partitions=partitions)
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 50, "batch.num.messages": 10000}
    )
    payload = b"x" * 200
    for i in range(messages):
        producer.produce(topic, key=f"k{i % keys}".encode(), value=payload)
        if i % 10_000 == 0:
            producer.poll(0)
    producer.flush(60)
    return topic


def bare_loop(bootstrap: str, topic: str, messages: int) -> float:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-bare-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            **FAST_GROUP,
        }
    )
    consumer.subscribe([topic])
    seen, started = 0, 0.0
    try:
        while seen < messages:
            for msg in consumer.consume(500, 0.05):
                if msg.error() is None:
                    if not seen:
                        started = time.monotonic()
                    msg.key(), msg.value()
                    seen += 1
        return (seen - 1) / (time.monotonic() - started)
    finally:
        consumer.close()


class Counting(BatchHandler[bytes | None]):
    def __init__(self, max_batch_size: int) -> None:
        self.max_batch_size = max_batch_size
        self.count = 0
        self.first_at = 0.0
        self._lock = threading.Lock()

    def handle_batch(self, batch: Sequence[Message[bytes | None]]) -> Sequence[Outcome]:
        with self._lock:
            if not self.count:
                self.first_at = time.monotonic()
            self.count += len(batch)
        return [Processed()] * len(batch)


def run_engine(
    bootstrap: str, topic: str, messages: int, handler: Any, workers: int, count: Any
) -> float:
    engine = ConsumerEngine(
        topics=[topic],
        group_id=f"bench-engine-{uuid.uuid4().hex[:8]}",
        handler=handler,
        decode=lambda m: m.value,
        kafka=KafkaSettings(bootstrap_servers=bootstrap),
        settings=ConsumerSettings(
            workers=workers, max_in_flight=5000, max_buffered_per_partition=2000
        ),
        client_config=FAST_GROUP,
    )
    thread = threading.Thread(target=engine.run, daemon=True)
    thread.start()
    try:
        while count()[0] < 1:
            time.sleep(0.001)
        first_count, first_at = count()
        while count()[0] < messages:
            time.sleep(0.002)
        return (count()[0] - first_count) / (time.monotonic() - first_at)
    finally:
        engine.request_stop()
        thread.join(60)


def noop_section(bootstrap: str, messages: int) -> list[tuple[str, float, float]]:
    topic = make_topic(bootstrap, messages, keys=10_000)
    bare = bare_loop(bootstrap, topic, messages)
    rows = [("bare confluent-kafka consume loop", bare, 1.0)]
    batched = Counting(max_batch_size=100)
    rate = run_engine(
        bootstrap, topic, messages, batched, 32, lambda: (batched.count, batched.first_at)
    )
    rows.append(("engine, no-op BatchHandler (batches <= 100)", rate, rate / bare))
    single: dict[str, Any] = {"count": 0, "first_at": 0.0}
    lock = threading.Lock()

    def one(message: Message[bytes | None]) -> None:
        with lock:
            if not single["count"]:
                single["first_at"] = time.monotonic()
            single["count"] += 1

    rate = run_engine(
        bootstrap,
        topic,
        messages,
        PerMessageHandler(one),
        32,
        lambda: (single["count"], single["first_at"]),
    )
    rows.append(("engine, no-op PerMessageHandler", rate, rate / bare))
    return rows


def io_section(
    bootstrap: str, workers: int, latency: float, rounds: int
) -> list[tuple[str, float, float]]:
    messages = workers * rounds
    topic = make_topic(bootstrap, messages, keys=500)
    state: dict[str, Any] = {"count": 0, "first_at": 0.0}
    lock = threading.Lock()

    def slow(message: Message[bytes | None]) -> None:
        with lock:
            if not state["count"]:
                state["first_at"] = time.monotonic()
        time.sleep(latency)
        with lock:
            state["count"] += 1

    # Rate from the first start: count completions, but time from the first call.
    rate = run_engine(
        bootstrap,
        topic,
        messages,
        PerMessageHandler(slow),
        workers,
        lambda: (state["count"], state["first_at"]),
    )
    ideal = workers / latency
    return [
        (f"ideal {workers} workers / {latency * 1000:.0f} ms", ideal, 1.0),
        (f"engine, {latency * 1000:.0f} ms simulated I/O", rate, rate / ideal),
    ]


def print_rows(title: str, rows: list[tuple[str, float, float]]) -> None:
    print(f"\n{title}")
    print(f"{'':46} {'msg/s':>10} {'ratio':>7}")
    for name, rate, ratio in rows:
        print(f"{name:46} {rate:10.0f} {ratio:7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", help="an existing broker; default: start the embedded one")
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--io-rounds", type=int, default=20, help="messages per worker, I/O run")
    args = parser.parse_args()
    with broker(args.bootstrap) as bootstrap:
        print_rows("No-op handler vs bare poll loop", noop_section(bootstrap, args.messages))
        print_rows(
            "200 ms I/O handler vs ideal", io_section(bootstrap, args.workers, 0.2, args.io_rounds)
        )


if __name__ == "__main__":
    main()
