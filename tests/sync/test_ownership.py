"""One member at a time syncs a billing root, across members joining and leaving (issue 16).

Three sync members on the real broker, a steady stream of change events for two contracts
(initial order, amendment orders, their lines) and three plain orders, and manual requests.
Each member's root stage notes when it starts and ends the work of each billing root (its
in-process root locks, held from hydration to the last Stripe call); no root's work may ever
overlap on two members, while a member joins and another leaves mid-run.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from consumer.sync.manual import request_sync
from consumer.sync.root_locks import RootLocks
from consumer.sync.service import roots_group
from cpqsync.app.ops.committed_offsets import committed_offsets, committed_offsets_of
from cpqsync.kafka.offsets import end_offsets
from cpqsync.kafka.topics import Topics, ensure_topics
from cpqsync_sandbox.org.cpq_actions import AmendmentLine
from cpqsync_sandbox.org.simulator import OrgSimulator
from cpqsync_sandbox.stripe_emulator import StripeEmulator
from tests.sync.stack import Events, Stack, stack_settings

# Timing-sensitive with several processes or measured rates: run alone (README test command).
pytestmark = [pytest.mark.integration, pytest.mark.serial]

PARTITIONS = 6
CONTRACTS = ("order_acme", "order_globex")
# Every other order of the dataset is a root of its own: their keys fall on five of the six
# partitions, so any member holding two partitions holds some root's work (with three plain
# orders they all hashed to partitions 0-2 and a member could own none of them).


@dataclass(frozen=True)
class Span:
    root: str
    member: str
    start: float
    end: float


class RecordingLocks(RootLocks):
    """A member's root locks, noting each hold of a root as a span."""

    def __init__(self, member: str, spans: list[Span], guard: threading.Lock) -> None:
        super().__init__()
        self._member = member
        self._spans = spans
        self._guard = guard

    @contextmanager
    def holding(self, keys: Iterable[Any]) -> Iterator[None]:
        held = list(keys)
        with super().holding(held):
            start = time.monotonic()
            try:
                yield
            finally:
                end = time.monotonic()
                with self._guard:
                    self._spans.extend(Span(str(k.id), self._member, start, end) for k in held)


def overlaps(spans: list[Span]) -> list[tuple[Span, Span]]:
    """Pairs of spans of one root on two members that ran at the same time."""
    found = []
    by_root: dict[str, list[Span]] = {}
    for span in spans:
        by_root.setdefault(span.root, []).append(span)
    for root_spans in by_root.values():
        ordered = sorted(root_spans, key=lambda s: s.start)
        for i, one in enumerate(ordered):
            for other in ordered[i + 1 :]:
                if other.start >= one.end:
                    break
                if other.member != one.member:
                    found.append((one, other))
    return found


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.2)


def amend(org: OrgSimulator, order_ref: str, months: int) -> str:
    order_id = org.dataset.id(order_ref)
    contract = org.get("Order", order_id).get("ContractId") or org.contract_order(order_id)
    soql = f"SELECT Id FROM OrderItem WHERE OrderId = '{order_id}'"
    line = org.query(soql).records[0]
    start = dt.date.today() + dt.timedelta(days=30 * months)
    return org.amend_contract(contract, start, [AmendmentLine(1, revises=line["Id"])])


class Backlog:
    """How far behind the group is: change events the churn produced that the trigger stage
    has not committed, plus root work the root stage has not (one admin request and a
    watermark per roots partition: cheap enough to ask every second under load)."""

    def __init__(self, kafka: str, topics: Topics, group: str) -> None:
        self._admin = AdminClient({"bootstrap.servers": kafka})
        self._watermarks = Consumer({"bootstrap.servers": kafka, "group.id": f"{group}-watch"})
        self._topics = topics
        self._group = group
        self.produced = 0

    def __call__(self) -> int:
        offsets = committed_offsets_of(self._admin, [self._group, roots_group(self._group)])
        changes = set(self._topics.change_topics)
        consumed = sum(o for (t, _), o in offsets[self._group].items() if t in changes)
        roots = offsets[roots_group(self._group)]
        ends = (
            self._watermarks.get_watermark_offsets(
                TopicPartition(self._topics.sync_roots, p), timeout=10, cached=False
            )[1]
            for p in range(PARTITIONS)
        )
        root_work = sum(
            max(0, end - roots.get((self._topics.sync_roots, p), 0)) for p, end in enumerate(ends)
        )
        return max(0, self.produced - consumed) + root_work

    def close(self) -> None:
        self._watermarks.close()


def behind(kafka: str, admin: AdminClient, groups: dict[str, list[str]]) -> list[str]:
    """The partitions a group has not committed up to their end yet."""
    lagging = []
    for group, topics in groups.items():
        partitions = [TopicPartition(t, p) for t in topics for p in range(PARTITIONS)]
        ends = end_offsets(kafka, partitions)
        committed = committed_offsets(admin, group)
        lagging.extend(
            f"{group} {key}: {committed.get(key, 0)} < {end}"
            for key, end in ends.items()
            if end and committed.get(key, 0) < end
        )
    return lagging


def test_a_root_is_synced_by_one_member_at_a_time_as_members_join_and_leave(
    org: OrgSimulator, emulator: StripeEmulator, kafka: str, unique: Callable[[str], str]
) -> None:
    prefix = unique("owner")
    settings = stack_settings(org, emulator, kafka, prefix)
    settings.kafka.partitions = PARTITIONS
    ensure_topics(kafka, Topics(prefix).all_topics(), partitions=PARTITIONS)
    stack = Stack(org, emulator, kafka, settings)
    emulator.set_latency(20)  # a root's work spans several round trips
    plain = [
        str(row["Id"])
        for row in org.query("SELECT Id FROM Order").records
        if row["Id"] not in {org.dataset.id(ref) for ref in CONTRACTS}
    ]
    initial = [org.dataset.id(ref) for ref in CONTRACTS] + plain
    for order_id in initial:
        org.activate_order(order_id)
    amendments = {ref: [amend(org, ref, 2), amend(org, ref, 4)] for ref in CONTRACTS}
    roots = set(initial)
    accounts = {str(row["AccountId"]) for row in org.query("SELECT AccountId FROM Order").records}
    # Every order with the root it belongs to; an amendment belongs to its contract's order.
    orders = {order_id: order_id for order_id in initial}
    for ref, ids in amendments.items():
        orders.update(dict.fromkeys(ids, org.dataset.id(ref)))
    lines = {
        row["Id"]: row["OrderId"]
        for row in org.query("SELECT Id, OrderId FROM OrderItem").records
        if row["OrderId"] in orders
    }
    spans: list[Span] = []
    guard = threading.Lock()
    group = f"{prefix}-sync"

    def member(name: str) -> Any:
        return stack.start_sync(group, locks=RecordingLocks(name, spans, guard))

    events = Events(kafka, stack.topics)
    stop = threading.Event()
    behind_by = Backlog(kafka, stack.topics, group)

    def churn() -> None:
        """Every order and line of every root changes, round after round."""
        round_ = 0
        while not stop.is_set():
            round_ += 1
            for order_id in orders:
                events.changed("Order", order_id, {"Description": f"round {round_}"})
            for line_id, order_id in lines.items():
                # Half the line events carry their order (as creates do), half need a query.
                values = {"Description": f"round {round_}"}
                if round_ % 2:
                    values["OrderId"] = order_id
                events.changed("OrderItem", line_id, values)
            events.flush()
            # The next round comes once the group is at most a round behind, or after 10 s (a
            # rebalance): members always have work, yet the backlog stays a round or two deep
            # however loaded the machine is, so the final drain is short.
            behind_by.produced += len(orders) + len(lines)
            paced = time.monotonic() + 10
            while not stop.wait(1) and time.monotonic() < paced:
                if behind_by() <= len(orders) + len(lines):
                    break

    def synced_by(name: str, since: float = 0.0) -> bool:
        with guard:
            return any(s.member == name and s.start >= since for s in spans)

    writer = threading.Thread(target=churn, daemon=True)
    try:
        # Each step waits for what it needs to have happened, not for a fixed time: on a
        # loaded machine a member can take seconds to join and sync its first root.
        first = member("a")
        writer.start()
        wait_for(lambda: synced_by("a"), "the first member synced a root")
        member("b")
        member("c")  # joins mid-run
        wait_for(lambda: synced_by("b") and synced_by("c"), "the joining members synced roots")
        answer = request_sync(
            settings.kafka,
            kafka,
            amendments["order_acme"][0],
            object_type="Order",
            requested_by="cli:test",
            # Behind rounds of churn for a dozen roots, on a loaded 2-core machine.
            timeout_s=180,
        )
        stack.stop_sync(first)  # leaves mid-run
        left = time.monotonic()
        with guard:
            held_by_first = {s.root for s in spans if s.member == "a"}
        wait_for(
            lambda: any(
                s.root in held_by_first and s.member != "a" and s.start >= left for s in list(spans)
            ),
            "the leaving member's roots moved to the others",
        )
        stop.set()
        writer.join(10)
        # Quiet for a while: every root's work done. A graceful stop then commits what the
        # members finished (a routine commit sent during the last rebalance may have failed).
        seen = -1
        while len(spans) != seen:
            seen = len(spans)
            time.sleep(3)
        stack.stop_syncs()
        admin = AdminClient({"bootstrap.servers": kafka})
        topics = stack.topics
        stages = {
            group: [*topics.change_topics, topics.sync_requests],
            roots_group(group): [topics.sync_roots],
        }
        assert behind(kafka, admin, stages) == [], "every trigger and root work was done"
    finally:
        stop.set()
        if writer.is_alive():
            writer.join(10)
        behind_by.close()
        stack.close()

    assert answer.root is not None, "the manual sync of an amendment was answered"
    assert answer.root.primary_record_id == amendments["order_acme"][0]
    assert overlaps(spans) == []
    # The work was keyed by billing root: an amendment's work is held under its contract's
    # initial order, never under its own id. (The orders' accounts are roots too: an order
    # asks its Account's root to bring the customer up to date.)
    assert {span.root for span in spans} - accounts == roots
    members_per_root = {root: {s.member for s in spans if s.root == root} for root in roots}
    assert {s.member for s in spans} == {"a", "b", "c"}, "every member synced some roots"
    assert any(len(m) > 1 for m in members_per_root.values()), "roots moved between members"
