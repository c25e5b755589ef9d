"""The account's Stripe budget is shared by the sync group's members, with no hand division.

A real broker, real consumer engines (one per member, each with the sync's own pacer and
budget share), the real stripe library, and the Stripe emulator in a process of its own with
Stripe's live limit (100 requests/s) and a round trip of 100 ms. Each message costs one
Stripe request. A member with four workers can send only about 35 requests/s, so one member
is bound by its round trips, three members by the account's budget (90/s), and two in
between: the group grows 1 -> 3 -> 2 mid-run while the aggregate stays under the limit.
With the members' demand boards, work that sits in a few partitions gets the whole budget.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import stripe
from confluent_kafka import Producer
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from consumer.engine import BatchHandler, ConsumerEngine, Message, Outcome, Processed
from consumer.engine.demand import DemandBoard
from consumer.engine.pacing import IDLE_SHARE
from consumer.engine_settings import engine_settings, kafka_clients
from consumer.sync.service import budget_share, demand_board, stripe_pacer
from consumer.sync.stripe_calls import StripeCaller
from cpqsync.kafka.topics import ensure_topics
from cpqsync.settings import ConsumerSettings, KafkaSettings, StripeSettings
from cpqsync.stripe_client import build_stripe_client
from tests.sync.stack import wait_for

# Timing-sensitive with several processes or measured rates: run alone (README test command).
pytestmark = [pytest.mark.integration, pytest.mark.serial]

LIMIT = 100  # Stripe's live-mode limit, enforced by the emulator per key over a 1 s window
BUDGET = 90.0  # stripe.account_requests_per_second
LATENCY_MS = 100
WORKERS = 4  # per member: ~35 requests/s at this latency
PARTITIONS = 6


class StripeProcess:
    """The emulator in its own process, as Stripe is remote (in this process, its one-second
    window would see requests bunched by the GIL)."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cpqsync",
                "sandbox",
                "stripe",
                "--latency-ms",
                str(LATENCY_MS),
                "--rate-limit",
                str(LIMIT),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        ready = json.loads(line)
        self.api_base: str = ready["api_base"]
        self.api_key: str = ready["api_key"]

    def statuses(self) -> list[int]:
        response = requests.get(f"{self.api_base}/_emulator/requests", timeout=60)
        response.raise_for_status()
        return [int(entry["status"]) for entry in response.json()["data"]]

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def emulator() -> Iterator[StripeProcess]:
    emulator = StripeProcess()
    try:
        yield emulator
    finally:
        emulator.close()


class SendTimes(stripe.RequestsClient):
    """The moment each request went out, for the aggregate rate over time."""

    def __init__(self) -> None:
        super().__init__(timeout=10)
        self.sent: list[float] = []
        self._lock = threading.Lock()

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        **options: Any,
    ) -> tuple[Any, int, Mapping[str, str]]:
        with self._lock:
            self.sent.append(time.monotonic())
        return super().request(method, url, headers, post_data, **options)

    def between(self, start: float, end: float) -> int:
        with self._lock:
            return sum(1 for at in self.sent if start <= at < end)

    def busiest_second(self) -> int:
        with self._lock:
            sent = sorted(self.sent)
        first = busiest = 0
        for last, at in enumerate(sent):
            while sent[first] <= at - 1.0:
                first += 1
            busiest = max(busiest, last - first + 1)
        return busiest


class OneRequestEach(BatchHandler[bytes]):
    """Creates one customer per message, through the sync's own ``StripeCaller``."""

    max_batch_size = 1

    def __init__(self, caller: StripeCaller) -> None:
        self._caller = caller

    def handle_batch(self, batch: Sequence[Message[bytes]]) -> Sequence[Outcome]:
        for message in batch:
            key = f"budget-{message.topic}-{message.partition}-{message.offset}"
            self._caller.call(
                lambda client, key=key: client.v1.customers.create(
                    {"name": key}, {"idempotency_key": key}
                )
            )
        return [Processed()] * len(batch)


@dataclass
class Member:
    engine: ConsumerEngine[bytes]
    caller: StripeCaller
    board: DemandBoard | None = None
    thread: threading.Thread = field(init=False)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self.engine.run, daemon=True)
        self.thread.start()
        if self.board is not None:
            self.board.start()

    @property
    def ceiling(self) -> float:
        return self.caller.pacer.max_rate

    def owned(self) -> int:
        return len(self.engine.assignment)

    def stop(self) -> None:
        self.engine.request_stop()
        self.thread.join(30)
        if self.board is not None:
            self.board.stop()


@dataclass
class Group:
    kafka: str
    topic: str
    group_id: str
    stripe_settings: StripeSettings
    clock: SendTimes
    workers: int = WORKERS
    # The topic of the members' demand boards (None: shares by partitions alone).
    demand_topic: str | None = None
    members: list[Member] = field(default_factory=list)

    def join(self) -> Member:
        pacer = stripe_pacer(self.stripe_settings, CollectorRegistry())
        caller = StripeCaller(
            build_stripe_client(self.stripe_settings, http_client=self.clock), pacer
        )
        share = budget_share(self.stripe_settings, pacer, [self.topic])
        assert share is not None
        consumer = ConsumerSettings(
            workers=self.workers,
            commit_interval_ms=200,
            session_timeout_ms=6_000,
            max_poll_interval_ms=20_000,
            revoke_deadline_s=3,
            shutdown_deadline_s=1,
        )
        kafka = KafkaSettings(bootstrap_servers=self.kafka)
        engine: ConsumerEngine[bytes] = ConsumerEngine(
            topics=[self.topic],
            group_id=self.group_id,
            handler=OneRequestEach(caller),
            decode=lambda message: message.value or b"",
            kafka=kafka_clients(kafka, consumer),
            settings=engine_settings(consumer),
            client_config={"heartbeat.interval.ms": 1000},
            registry=CollectorRegistry(),
            on_assignment=share.on_assignment,
        )
        board = None
        if self.demand_topic is not None:
            board = demand_board(kafka, self.kafka, self.demand_topic, share, engine)
        member = Member(engine, caller, board)
        self.members.append(member)
        return member

    def leave(self) -> None:
        self.members.pop().stop()

    def settled(self) -> bool:
        """Every partition owned by exactly one member and every pacer sized to it."""
        owned = [m.owned() for m in self.members]
        return (
            sum(owned) == PARTITIONS
            and all(owned)
            and all(
                m.ceiling == pytest.approx(BUDGET * n / PARTITIONS)
                for m, n in zip(self.members, owned, strict=True)
            )
        )

    def close(self) -> None:
        while self.members:
            self.leave()


def produce(kafka: str, topic: str, count: int, partitions: Sequence[int] = ()) -> None:
    """``count`` messages of distinct keys, spread by key or over ``partitions`` only."""
    producer = Producer({"bootstrap.servers": kafka, "linger.ms": 20})
    for i in range(count):
        key, value = f"k{i}".encode(), str(i).encode()
        if partitions:
            producer.produce(topic, value, key, partition=partitions[i % len(partitions)])
        else:
            producer.produce(topic, value, key)
        if i % 1000 == 0:
            producer.poll(0)
    assert producer.flush(30) == 0


@dataclass
class Phase:
    members: int
    rate: float
    ceilings: float


def measure(group: Group, seconds: float) -> Phase:
    wait_for(group.settled, timeout=60)
    start = time.monotonic()
    time.sleep(seconds)
    sent = group.clock.between(start, time.monotonic())
    return Phase(len(group.members), sent / seconds, sum(m.ceiling for m in group.members))


def run_phases(
    kafka: str,
    unique: Callable[[str], str],
    emulator: StripeProcess,
    *,
    seconds: float,
    sizes: Sequence[int],
) -> tuple[list[Phase], SendTimes]:
    topic = unique("budget")
    ensure_topics(kafka, {topic: {}}, partitions=PARTITIONS)
    produce(kafka, topic, int(BUDGET * seconds * len(sizes) * 2 + 1_000))
    settings = StripeSettings(
        api_key=SecretStr(emulator.api_key),
        api_base=emulator.api_base,
        account_requests_per_second=BUDGET,
    )
    clock = SendTimes()
    group = Group(kafka, topic, unique("budget-group"), settings, clock)
    phases = []
    try:
        for size in sizes:
            while len(group.members) < size:
                group.join()
            while len(group.members) > size:
                group.leave()
            phases.append(measure(group, seconds))
    finally:
        group.close()
    return phases, clock


def check(phases: list[Phase], clock: SendTimes, statuses: list[int]) -> None:
    by_size = {p.members: p for p in phases}
    print(
        [(p.members, round(p.rate, 1)) for p in phases],
        "busiest",
        clock.busiest_second(),
        "429s",
        statuses.count(429),
        "of",
        len(statuses),
    )
    for phase in phases:
        assert phase.ceilings == pytest.approx(BUDGET), "the members' shares add up to the budget"
        assert phase.rate <= LIMIT
    # Throughput follows the members while their round trips bound it ...
    one, two, three = by_size[1], by_size[2], by_size[3]
    assert 20 <= one.rate <= 50, f"one member is bound by its round trips: {one.rate:.1f}/s"
    assert two.rate >= 1.5 * one.rate
    # ... until the account's budget binds.
    assert three.rate >= 0.85 * BUDGET, f"three members use the budget: {three.rate:.1f}/s"
    assert clock.busiest_second() <= LIMIT, "no one-second window above Stripe's limit"
    rate_limited = statuses.count(429)
    assert rate_limited < 0.01 * len(statuses), f"{rate_limited} 429s in {len(statuses)} requests"


def test_the_group_shares_the_account_budget_as_members_come_and_go(
    kafka: str, unique: Callable[[str], str], emulator: StripeProcess
) -> None:
    phases, clock = run_phases(kafka, unique, emulator, seconds=6, sizes=(1, 3, 2))
    check(phases, clock, emulator.statuses())


@pytest.mark.slow
def test_the_budget_holds_over_a_long_run_of_joins_and_leaves(
    kafka: str, unique: Callable[[str], str], emulator: StripeProcess
) -> None:
    phases, clock = run_phases(kafka, unique, emulator, seconds=20, sizes=(1, 3, 2, 3, 1, 2))
    check(phases, clock, emulator.statuses())


def test_members_with_work_get_the_budget_members_without_work_leave(
    kafka: str, unique: Callable[[str], str], emulator: StripeProcess
) -> None:
    """The work sits in two of the six partitions only. By partitions alone their owners
    would keep their thirds of the budget (60 requests/s, 30 if one owns both) while the
    others idle; with the members' demand boards (as ``SyncService`` wires them) the two
    busy partitions have the whole budget. 24 workers a member: its pacer binds, not its
    round trips."""
    topic, demand = unique("budget-work"), unique("budget-demand")
    ensure_topics(kafka, {topic: {}, demand: {}}, partitions=PARTITIONS)
    settings = StripeSettings(
        api_key=SecretStr(emulator.api_key),
        api_base=emulator.api_base,
        account_requests_per_second=BUDGET,
    )
    clock = SendTimes()
    group = Group(
        kafka, topic, unique("budget-work-group"), settings, clock, 24, demand_topic=demand
    )
    seconds = 6.0
    try:
        for _ in range(3):
            group.join()
        wait_for(group.settled, timeout=60)  # nobody has work yet: shares by partitions
        produce(kafka, topic, int(BUDGET * seconds * 3), partitions=(0, 1))
        wait_for(lambda: clock.between(time.monotonic() - 1, time.monotonic()) > 0, timeout=30)
        time.sleep(2)  # the members' reports reach one another within a moment
        start = time.monotonic()
        time.sleep(seconds)
        rate = clock.between(start, time.monotonic()) / seconds
        ceilings = [m.ceiling for m in group.members]
    finally:
        group.close()
    statuses = emulator.statuses()
    rate_limited = statuses.count(429)
    print(
        f"{rate:.1f}/s, ceilings {ceilings}, busiest {clock.busiest_second()}, 429s {rate_limited}"
    )
    assert rate >= 0.8 * BUDGET, f"the work gets the budget: {rate:.1f} requests/s"
    # (A member without work keeps a sliver, IDLE_SHARE, for work it may be abandoning.)
    assert sum(ceilings) <= BUDGET * (1 + 3 * IDLE_SHARE), "the ceilings add up to the budget"
    assert clock.busiest_second() <= LIMIT, "no one-second window above Stripe's limit"
    assert rate_limited < 0.01 * len(statuses), f"{rate_limited} 429s in {len(statuses)} requests"
