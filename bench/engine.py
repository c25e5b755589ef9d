"""Consumer engine throughput, side by side with what it is compared to, in one run.

1. No-op handler: messages/s through the engine vs a bare confluent-kafka
   ``consume`` loop over the same topic (target: the engine reaches >= 50%).
2. Simulated I/O: a handler sleeping 200 ms per message; messages/s vs the
   ideal ``workers / latency`` (target: >= 80%).

Both sides read the same topic, the same number of messages, and touch each
message's key and value; rates are measured from the first message handled to
the last, so the consumer group join (seconds on the embedded broker) is not
counted. Each no-op rate is the median of ``--repeat`` alternating runs. Run from
the repository root:
``python -m bench.engine [--bootstrap HOST:PORT] [--messages N]``.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
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
from consumer.engine.config import EngineSettings
from consumer.engine_settings import kafka_clients
from cpqsync.kafka.topics import ensure_topics
from cpqsync.settings import ConsumerSettings, KafkaSettings
from cpqsync_sandbox.broker import EmbeddedBroker

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


class Clock:
    """Counts handled messages; notes when the first and the last expected one were handled."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.count = 0
        self.first_count = 0
        self.first_at = 0.0
        self.done_at = 0.0
        self._lock = threading.Lock()

    def handled(self, count: int) -> None:
        with self._lock:
            now = time.monotonic()
            if not self.first_at:
                self.first_at = now
                self.first_count = count
            self.count += count
            if self.count >= self.expected and not self.done_at:
                self.done_at = now

    def rate(self) -> float:
        """Messages/s after the first batch (whose start is the clock's zero) to the last."""
        return (self.count - self.first_count) / (self.done_at - self.first_at)


class Counting(BatchHandler[bytes | None]):
    def __init__(self, max_batch_size: int, clock: Clock) -> None:
        self.max_batch_size = max_batch_size
        self.clock = clock

    def handle_batch(self, batch: Sequence[Message[bytes | None]]) -> Sequence[Outcome]:
        for message in batch:
            message.key, message.value  # noqa: B018 - touch them, as the bare loop does
        self.clock.handled(len(batch))
        return [Processed()] * len(batch)


def run_engine(bootstrap: str, handler: Any, topic: str, workers: int, clock: Clock) -> float:
    engine = ConsumerEngine(
        topics=[topic],
        group_id=f"bench-engine-{uuid.uuid4().hex[:8]}",
        handler=handler,
        decode=lambda m: m.value,
        kafka=kafka_clients(KafkaSettings(bootstrap_servers=bootstrap), ConsumerSettings()),
        settings=EngineSettings(
            workers=workers, max_in_flight=5000, max_buffered_per_partition=2000
        ),
        client_config=FAST_GROUP,
    )
    thread = threading.Thread(target=engine.run, daemon=True)
    thread.start()
    try:
        while not clock.done_at:
            time.sleep(0.01)
        return clock.rate()
    finally:
        engine.request_stop()
        thread.join(60)


Row = tuple[str, float, float, str]


def noop_section(bootstrap: str, messages: int, repeat: int) -> list[Row]:
    """Median rates of ``repeat`` alternating runs: a single run lasts a fraction of a
    second, so on a shared machine one rate on its own says little."""
    topic = make_topic(bootstrap, messages, keys=10_000)
    bare: list[float] = []
    batched: list[float] = []
    single: list[float] = []
    for _ in range(repeat):
        bare.append(bare_loop(bootstrap, topic, messages))
        clock = Clock(messages)
        batched.append(run_engine(bootstrap, Counting(100, clock), topic, 32, clock))
        clock = Clock(messages)
        single.append(run_engine(bootstrap, PerMessageHandler(_touching(clock)), topic, 32, clock))
    base = statistics.median(bare)
    return [
        (f"bare confluent-kafka consume loop (median of {repeat})", base, 1.0, ""),
        ("engine, no-op BatchHandler (batches <= 100)", *_relative(batched, bare)),
        ("engine, no-op PerMessageHandler", *_relative(single, bare)),
    ]


def _touching(clock: Clock) -> Callable[[Message[bytes | None]], None]:
    def one(message: Message[bytes | None]) -> None:
        message.key, message.value  # noqa: B018 - touch them, as the bare loop does
        clock.handled(1)

    return one


def _relative(rates: list[float], bare: list[float]) -> tuple[float, float, str]:
    """The median rate, its ratio to the bare loop's median, and the range of the single
    runs' ratios (each engine run against the bare run just before it)."""
    rate = statistics.median(rates)
    singles = [engine / loop for engine, loop in zip(rates, bare, strict=True)]
    return rate, rate / statistics.median(bare), f"{min(singles):.2f}-{max(singles):.2f}"


def io_section(bootstrap: str, workers: int, latency: float, rounds: int) -> list[Row]:
    messages = workers * rounds
    topic = make_topic(bootstrap, messages, keys=500)
    clock = Clock(messages)
    started = threading.Event()

    def slow(message: Message[bytes | None]) -> None:
        if not started.is_set():
            started.set()
            clock.handled(0)  # the clock starts with the first call, not the first completion
        time.sleep(latency)
        clock.handled(1)

    rate = run_engine(bootstrap, PerMessageHandler(slow), topic, workers, clock)
    ideal = workers / latency
    return [
        (f"ideal {workers} workers / {latency * 1000:.0f} ms", ideal, 1.0, ""),
        (f"engine, {latency * 1000:.0f} ms simulated I/O", rate, rate / ideal, ""),
    ]


def print_rows(title: str, rows: list[Row]) -> None:
    print(f"\n{title}")
    print(f"{'':46} {'msg/s':>10} {'ratio':>7} {'single runs':>12}")
    for name, rate, ratio, spread in rows:
        print(f"{name:46} {rate:10.0f} {ratio:7.2f} {spread:>12}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", help="an existing broker; default: start the embedded one")
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--io-rounds", type=int, default=20, help="messages per worker, I/O run")
    parser.add_argument("--repeat", type=int, default=3, help="no-op runs of each kind")
    args = parser.parse_args()
    with broker(args.bootstrap) as bootstrap:
        print_rows(
            "No-op handler vs bare poll loop", noop_section(bootstrap, args.messages, args.repeat)
        )
        print_rows(
            "200 ms I/O handler vs ideal", io_section(bootstrap, args.workers, 0.2, args.io_rounds)
        )


if __name__ == "__main__":
    main()
