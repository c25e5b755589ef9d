"""The account's budget follows the work: partitions that ran dry give their part to the rest."""

from __future__ import annotations

import itertools

import pytest
from prometheus_client import CollectorRegistry

from consumer.engine import Assignment, BudgetShare, Pacer
from consumer.engine.demand import (
    FRESH_FOR_S,
    RAISE_AFTER_S,
    BusyPartitions,
    Demand,
    GroupDemand,
    busy_share,
    report_key,
)

ROOTS = "sync.roots"
PARTITIONS = 6


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_000.0

    def clock(self) -> float:
        return self.now


def owning(*partitions: int) -> Assignment:
    return Assignment(frozenset((ROOTS, p) for p in partitions), {ROOTS: PARTITIONS})


class Member:
    """A member's pacer and budget share, on a clock the test moves."""

    def __init__(self, budget: float = 90) -> None:
        self.time = FakeTime()
        self.pacer = Pacer("stripe", budget, registry=CollectorRegistry(), clock=self.time.clock)
        self.share = BudgetShare(self.pacer, budget, [ROOTS], clock=self.time.clock)

    def reports(self, own: Demand | None, others: list[Demand], *, settle: bool = True) -> None:
        """The board's reports, then (``settle``) the same again once a raise may happen."""
        self.share.on_demand(own, others)
        if settle:
            self.time.now += RAISE_AFTER_S
            self.share.on_demand(own, others)


def test_a_member_gets_the_budget_its_dry_group_mates_leave() -> None:
    """Three members of two partitions each; the first ran dry: the two with work share the
    whole budget (by partitions alone each kept a third, and 30 requests/s went unused)."""
    b = Member()
    b.share.on_assignment(owning(2, 3))
    assert b.pacer.max_rate == pytest.approx(30)
    b.reports(Demand("b", 2, 2), [Demand("a", 2, 0), Demand("c", 2, 2)])
    assert b.pacer.max_rate == pytest.approx(45)
    b.reports(Demand("b", 2, 2), [Demand("a", 2, 0), Demand("c", 2, 0)])
    assert b.pacer.max_rate == pytest.approx(90), "the last member with work has all of it"
    b.reports(Demand("b", 2, 1), [Demand("a", 2, 0), Demand("c", 2, 1)])
    assert b.pacer.max_rate == pytest.approx(45), "budget per busy partition, not per member"


def test_a_share_falls_at_once_and_rises_only_once_the_others_can_have_heard() -> None:
    """Two members whose partitions got work at the same moment each see their own work
    first: were each to take the budget at once, the two would send twice it."""
    b = Member()
    b.share.on_assignment(owning(2, 3))
    b.reports(Demand("b", 2, 2), [Demand("a", 2, 0), Demand("c", 2, 0)])
    assert b.pacer.max_rate == pytest.approx(90)
    b.reports(Demand("b", 2, 2), [Demand("a", 2, 2), Demand("c", 2, 0)], settle=False)
    assert b.pacer.max_rate == pytest.approx(45), "a's work takes its part back at once"
    b.reports(Demand("b", 2, 2), [Demand("a", 2, 0), Demand("c", 2, 0)], settle=False)
    assert b.pacer.max_rate == pytest.approx(45), "not back up before RAISE_AFTER_S"
    b.time.now += RAISE_AFTER_S / 2
    b.share.on_demand(Demand("b", 2, 2), [Demand("a", 2, 0), Demand("c", 2, 0)])
    assert b.pacer.max_rate == pytest.approx(45)
    b.time.now += RAISE_AFTER_S / 2
    b.share.on_demand(Demand("b", 2, 2), [Demand("a", 2, 0), Demand("c", 2, 0)])
    assert b.pacer.max_rate == pytest.approx(90)


def test_work_arriving_elsewhere_takes_its_part_back() -> None:
    b = Member()
    b.share.on_assignment(owning(2, 3))
    b.reports(Demand("b", 2, 2), [Demand("a", 2, 0), Demand("c", 2, 0)])
    assert b.pacer.max_rate == pytest.approx(90)
    b.reports(Demand("b", 2, 2), [Demand("a", 2, 1), Demand("c", 2, 0)], settle=False)
    assert b.pacer.max_rate == pytest.approx(60)


def test_a_member_not_heard_from_counts_as_busy_everywhere() -> None:
    """Just started (or the others' reports lost): never more than the share by partitions."""
    b = Member()
    b.share.on_assignment(owning(2, 3))
    b.reports(Demand("b", 2, 2), [])
    assert b.pacer.max_rate == pytest.approx(30)
    b.reports(Demand("b", 2, 2), [Demand("a", 2, 0)])
    assert b.pacer.max_rate == pytest.approx(45), "c's two partitions, unreported, count busy"


def test_without_reports_or_without_any_work_the_share_is_by_partitions() -> None:
    b = Member()
    b.share.on_assignment(owning(2, 3))
    b.reports(Demand("b", 2, 2), [Demand("a", 2, 0), Demand("c", 2, 0)])
    b.reports(None, [], settle=False)  # the board stopped following the group
    assert b.pacer.max_rate == pytest.approx(30)
    b.reports(Demand("b", 2, 0), [Demand("a", 2, 0), Demand("c", 2, 0)])
    assert b.pacer.max_rate == pytest.approx(30), "nobody has work: ready at the partition share"


def test_a_member_without_work_keeps_a_sliver_and_a_rebalance_still_counts() -> None:
    a = Member()
    a.share.on_assignment(owning(0, 1))
    a.reports(Demand("a", 2, 0), [Demand("b", 2, 2), Demand("c", 2, 2)], settle=False)
    assert a.pacer.max_rate == pytest.approx(0.9)
    a.time.now += RAISE_AFTER_S
    a.share.on_assignment(owning(0, 1, 2))  # a member left; its reports still count for now
    assert a.pacer.max_rate == pytest.approx(0.9)


def test_the_members_shares_never_add_up_to_more_than_the_budget() -> None:
    """Every split of six partitions over three members, every count of busy partitions,
    each member knowing all, some or none of the others' reports."""
    for owned in [(2, 2, 2), (1, 2, 3), (4, 1, 1), (6, 0, 0)]:
        ranges = [range(n + 1) for n in owned]
        for busy in itertools.product(*ranges):
            reports = [
                Demand(str(i), o, b) for i, (o, b) in enumerate(zip(owned, busy, strict=True))
            ]
            for heard in itertools.product([True, False], repeat=3):
                total = 0.0
                for i, own in enumerate(reports):
                    others = [r for j, r in enumerate(reports) if j != i and heard[j]]
                    fraction = busy_share(own, others, PARTITIONS)
                    total += own.owned / PARTITIONS if fraction is None else fraction
                assert total <= 1 + 1e-9, (owned, busy, heard)
                if all(heard) and sum(busy):
                    assert total == pytest.approx(1), "the work has the whole budget"


def test_a_partition_counted_twice_in_a_rebalance_only_lowers_the_shares() -> None:
    """The old owner's last report still names a partition the new owner reports too."""
    old = Demand("a", 2, 2)
    new_owner = Demand("b", 3, 3)
    third = Demand("c", 2, 2)
    shares = [
        busy_share(old, [new_owner, third], PARTITIONS),
        busy_share(new_owner, [old, third], PARTITIONS),
        busy_share(third, [old, new_owner], PARTITIONS),
    ]
    assert sum(s or 0 for s in shares) < 1


def test_reports_expire_and_a_tombstone_removes_a_member_at_once() -> None:
    t = FakeTime()
    group = GroupDemand("sync-roots", "me", wall=t.clock)

    def record(member: str, value: bytes | None, *, of: str = "sync-roots") -> None:
        group.record(report_key(of, member), value)

    record("a", Demand("a", 2, 1, sent_at=t.now).encode())
    record("b", Demand("b", 2, 2, sent_at=t.now - FRESH_FOR_S - 1).encode())
    record("me", Demand("me", 2, 2, sent_at=t.now).encode())
    record("x", Demand("x", 6, 6, sent_at=t.now).encode(), of="another-group")
    assert [d.member for d in group.others()] == ["a"], "b's is stale, x is another group's"
    record("a", None)
    assert group.others() == []
    record("c", b"not json")
    assert group.others() == []
    record("c", Demand("c", 1, 1, sent_at=t.now).encode())
    t.now += FRESH_FOR_S + 0.1
    assert group.others() == [], "a member that stopped reporting is forgotten"


def test_a_partition_stays_busy_through_a_short_gap_between_fetches() -> None:
    t = FakeTime()
    busy = BusyPartitions(linger_s=0.5, clock=t.clock)
    owned = {(ROOTS, 0), (ROOTS, 1)}
    assert busy.count(owned, {(ROOTS, 0), (ROOTS, 1)}) == 2
    t.now += 0.3
    assert busy.count(owned, {(ROOTS, 1)}) == 2, "partition 0 empty for 0.3 s: still busy"
    t.now += 0.3
    assert busy.count(owned, {(ROOTS, 1)}) == 1
    assert busy.count({(ROOTS, 0)}, {(ROOTS, 1)}) == 0, "partition 1 revoked: not ours"
