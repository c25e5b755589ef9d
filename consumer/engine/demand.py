"""Which members of a group have work for the paced API, so idle members' budget goes to busy ones.

A share by partitions (``BudgetShare``) holds a member's part of the account's budget for it
whether or not its partitions have work: when some partitions run dry before others (the end
of a backlog, keys hashed unevenly), their owners stop and the rest go on at their fixed
shares, and the account is under-used (3 members: 90 90 60 60 30 30 requests/s at the end of
a 1,000-order run). Here each member tells the others, through a small topic, how many of
its partitions have work (``Demand``); every member then paces at the budget times its busy
partitions over the group's busy partitions (``busy_share``), so the budget follows the work.

Why it stays under the budget. Every member divides by the busy partitions it knows of plus
every partition no fresh report accounts for (a member not heard from is taken to be busy
everywhere), so no member's divisor is smaller than the group's real busy count, except for
the moment a report takes to arrive. A member publishes as soon as its own count changes,
and its share rises only ``RAISE_AFTER_S`` after it was computed (it falls at once), by
when the others have heard and lowered theirs; AIMD on 429 covers what is left. A member
that has heard from nobody yet (just started, or the topic unreadable) counts every other
partition as busy: its share is then never above its share by partitions.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_END, Consumer, KafkaError, Producer, TopicPartition

log = logging.getLogger(__name__)

# How often a member tells the group its demand when it has not changed (a heartbeat), and
# how long a report counts after it was sent: three heartbeats, so one lost or late record
# does not drop a live member; a member that stopped is forgotten after this long.
HEARTBEAT_S = 1.0
FRESH_FOR_S = 3 * HEARTBEAT_S
# How often a member looks at its own partitions (and the topic) for a change.
TICK_S = 0.1
# How long a member's share waits before it rises (it falls at once): long enough for its
# report, published at once, to reach the others (a tick each side, and the topic's round
# trip), so they have lowered theirs first.
RAISE_AFTER_S = 5 * TICK_S
# The longest the board's consumer lets a fetch wait for new reports.
FETCH_WAIT_MS = 20
# A partition counts as busy until it has held no work for this long: between two fetches a
# busy partition's buffer can be empty for a moment, and each flip would move the budget.
LINGER_S = 0.5


@dataclass(frozen=True)
class Demand:
    """One member's demand on the budget: partitions of the paced topics it owns, and how
    many of them hold work."""

    member: str
    owned: int
    busy: int
    sent_at: float = 0.0  # the sender's wall clock (seconds since the epoch)

    def encode(self) -> bytes:
        document = {"owned": self.owned, "busy": self.busy, "sent_at": self.sent_at}
        return json.dumps(document, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, member: str, value: bytes | None) -> Demand | None:
        """A report, or None for a tombstone (the member left) or an unreadable record."""
        if not value:
            return None
        try:
            document = json.loads(value)
            return cls(
                member, int(document["owned"]), int(document["busy"]), float(document["sent_at"])
            )
        except (ValueError, KeyError, TypeError):
            return None


def busy_share(own: Demand, others: Iterable[Demand], partitions: int) -> float | None:
    """This member's fraction of the budget: its busy partitions over the group's, where a
    partition no report accounts for counts as busy. None while the group has no work at
    all, or no partition count is known (the share by partitions applies)."""
    others = list(others)
    if partitions <= 0:
        return None
    unaccounted = max(0, partitions - own.owned - sum(other.owned for other in others))
    busy = own.busy + sum(other.busy for other in others) + unaccounted
    if busy == 0:
        return None
    return own.busy / busy


class BusyPartitions:
    """Which of a member's partitions hold work, each counted busy until it has been empty
    for ``linger_s`` (not thread-safe: one caller, the board's thread)."""

    def __init__(self, linger_s: float = LINGER_S, clock: Callable[[], float] = time.monotonic):
        self._linger_s = linger_s
        self._clock = clock
        self._last_work: dict[Any, float] = {}

    def count(self, owned: Iterable[Any], with_work: Iterable[Any]) -> int:
        now = self._clock()
        owned = set(owned)
        for partition in with_work:
            if partition in owned:
                self._last_work[partition] = now
        self._last_work = {p: at for p, at in self._last_work.items() if p in owned}
        return sum(1 for at in self._last_work.values() if now - at < self._linger_s)


def report_key(group: str, member: str) -> bytes:
    """A report's key: the consumer group and the member (groups may share the topic)."""
    return f"{group}/{member}".encode()


class GroupDemand:
    """The latest reports of ``group``'s other members, each forgotten ``FRESH_FOR_S`` after
    it was sent, by this host's clock (hosts' clocks must agree within a second or so, as NTP
    keeps them; a report that looks stale only makes its sender count as busy) (thread-safe)."""

    def __init__(
        self,
        group: str,
        member: str,
        fresh_for_s: float = FRESH_FOR_S,
        wall: Callable[[], float] = time.time,
    ):
        self._prefix = f"{group}/"
        self._member = member
        self._fresh_for_s = fresh_for_s
        self._wall = wall
        self._lock = threading.Lock()
        self._reports: dict[str, Demand] = {}

    def record(self, key: bytes, value: bytes | None) -> None:
        sender = key.decode(errors="replace")
        if not sender.startswith(self._prefix):
            return  # another group's
        member = sender.removeprefix(self._prefix)
        if member == self._member:
            return
        report = Demand.decode(member, value)
        with self._lock:
            if report is None:
                self._reports.pop(member, None)
            else:
                self._reports[member] = report

    def others(self) -> list[Demand]:
        oldest = self._wall() - self._fresh_for_s
        with self._lock:
            self._reports = {m: r for m, r in self._reports.items() if r.sent_at >= oldest}
            return list(self._reports.values())


class DemandBoard:
    """Publishes this member's ``Demand`` to ``topic`` and follows everyone else's there; calls
    ``on_demand(own, others)`` whenever either may have changed (from its own thread), and
    ``on_demand(None, [])`` when it stops following (pace by partitions again).

    ``local`` answers (partitions of the paced topics owned, those holding work now).
    """

    def __init__(
        self,
        *,
        topic: str,
        group: str,
        producer_config: dict[str, Any],
        consumer_config: dict[str, Any],
        local: Callable[[], tuple[set[Any], set[Any]]],
        on_demand: Callable[[Demand | None, list[Demand]], None],
        member: str | None = None,
    ) -> None:
        self.topic = topic
        self.group = group
        self.member = member or uuid.uuid4().hex
        self._producer_config = producer_config
        self._consumer_config = {
            **consumer_config,
            "group.id": f"cpqsync-demand-{self.member[:12]}",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
            # A report must reach the others well within RAISE_AFTER_S. A broker may hold a
            # fetch for the whole wait (the embedded one does: librdkafka's 500 ms would
            # let a member raise its share before the others had lowered theirs).
            "fetch.wait.max.ms": FETCH_WAIT_MS,
        }
        self._local = local
        self._on_demand = on_demand
        self._busy = BusyPartitions()
        self._group = GroupDemand(group, self.member)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> DemandBoard:
        self._thread = threading.Thread(target=self._run, name="demand-board", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def _run(self) -> None:
        try:
            producer = Producer(self._producer_config)
            consumer = Consumer(self._consumer_config)
        except Exception:
            log.exception("the demand board could not start; this member paces by partitions")
            return
        key = report_key(self.group, self.member)
        try:
            meta = consumer.list_topics(self.topic, timeout=10).topics[self.topic]
            consumer.assign([TopicPartition(self.topic, p, OFFSET_END) for p in meta.partitions])
            published: tuple[int, int] | None = None
            published_at = 0.0
            while not self._stop.is_set():
                for message in consumer.consume(100, TICK_S):
                    error, sender = message.error(), message.key()
                    if error is None and sender:
                        self._group.record(sender, message.value())
                    elif error is not None and error.code() != KafkaError._PARTITION_EOF:
                        log.warning("demand topic read error: %s", error.str())
                owned, with_work = self._local()
                own = Demand(self.member, len(owned), self._busy.count(owned, with_work))
                now = time.monotonic()
                if (own.owned, own.busy) != published or now - published_at >= HEARTBEAT_S:
                    own = Demand(own.member, own.owned, own.busy, time.time())
                    producer.produce(self.topic, own.encode(), key)
                    producer.poll(0)
                    published, published_at = (own.owned, own.busy), now
                self._on_demand(own, self._group.others())
        except Exception:
            log.exception("the demand board stopped; this member paces by partitions")
        finally:
            self._on_demand(None, [])
            # A tombstone: the others stop counting this member at once.
            producer.produce(self.topic, None, key)
            producer.flush(5)
            consumer.close()
