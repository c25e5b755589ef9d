"""A member's pacer follows its share of the account's budget through rebalances."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from consumer.engine import Assignment, BudgetShare, Pacer
from cpqsync.settings import StripeSettings

SYNC_INPUT = ("sf.order", "sf.account", "sync.requests")
COUNTS = {"sf.order": 6, "sf.account": 6, "sync.requests": 6, "sync.results": 6}


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def owning(*partitions: tuple[str, int]) -> Assignment:
    return Assignment(frozenset(partitions), COUNTS)


def every(topic: str) -> list[tuple[str, int]]:
    return [(topic, p) for p in range(COUNTS[topic])]


def test_a_member_paces_at_its_partitions_share_and_follows_every_rebalance() -> None:
    registry = CollectorRegistry()
    pacer = Pacer("stripe", 90, registry=registry)
    share = BudgetShare(pacer, 90, SYNC_INPUT)
    share.on_assignment(owning(*every("sf.order"), *every("sf.account"), *every("sync.requests")))
    assert pacer.max_rate == pytest.approx(90), "alone in the group: the whole budget"
    share.on_assignment(owning(*every("sf.order")))  # two members joined
    assert pacer.max_rate == pytest.approx(30)
    assert pacer.rate == pytest.approx(30)
    share.on_assignment(owning(*every("sf.order"), ("sf.account", 0), ("sf.account", 1)))
    assert pacer.max_rate == pytest.approx(90 * 8 / 18)
    ceiling = registry.get_sample_value(
        "cpqsync_engine_pacer_ceiling_per_second", {"pacer": "stripe"}
    )
    assert ceiling == pytest.approx(40)


def test_partitions_of_topics_outside_the_stripe_input_do_not_count() -> None:
    pacer = Pacer("stripe", 90, registry=CollectorRegistry())
    share = BudgetShare(pacer, 90, SYNC_INPUT)
    share.on_assignment(owning(*every("sf.order"), *every("sync.results")))
    assert pacer.max_rate == pytest.approx(30)


def test_a_member_owning_nothing_keeps_a_sliver_for_work_it_is_abandoning() -> None:
    pacer = Pacer("stripe", 90, registry=CollectorRegistry())
    BudgetShare(pacer, 90, SYNC_INPUT).on_assignment(owning())
    assert pacer.max_rate == pytest.approx(0.9)


def test_unknown_partition_counts_leave_the_rate_alone(caplog: pytest.LogCaptureFixture) -> None:
    pacer = Pacer("stripe", 90, registry=CollectorRegistry())
    share = BudgetShare(pacer, 90, SYNC_INPUT)
    with caplog.at_level(logging.WARNING):
        share.on_assignment(Assignment(frozenset({("sf.order", 0)}), {}))
    assert pacer.max_rate == 90
    assert "no partition count known" in caplog.text


def test_a_rebalance_keeps_the_slowdown_a_429_caused() -> None:
    """AIMD is not reset by a rebalance: halved at 60 of 90, then given a third of the
    budget, the member runs at half of its new ceiling and recovers from there."""
    t = FakeTime()
    pacer = Pacer(
        "stripe", 90, recovery_per_s=45, registry=CollectorRegistry(), clock=t.clock, sleep=t.sleep
    )
    pacer.on_rate_limited()
    assert pacer.rate == pytest.approx(45)
    pacer.set_max_rate(30)
    assert pacer.rate == pytest.approx(15)
    assert pacer.recovery_per_s == pytest.approx(15), "back to the ceiling as quickly as before"
    t.now += 0.5
    assert pacer.rate == pytest.approx(22.5)
    t.now += 10
    assert pacer.rate == pytest.approx(30), "never above the new ceiling"


def test_a_smaller_share_spends_a_smaller_burst() -> None:
    t = FakeTime()
    pacer = Pacer(
        "stripe", 100, capacity=10, registry=CollectorRegistry(), clock=t.clock, sleep=t.sleep
    )
    pacer.set_max_rate(20)
    for _ in range(2):
        pacer.acquire()
    assert t.now == 0, "the burst scaled to 2"
    pacer.acquire()
    assert t.now == pytest.approx(1 / 20)


@pytest.mark.parametrize(
    ("key", "budget"),
    [
        ("sk_live_abc", 90),
        ("rk_live_abc", 90),
        ("sk_test_abc", 22),
        ("rk_test_abc", 22),
        ("pk_live_not_a_secret_key", 22),
        (None, 22),
    ],
)
def test_the_default_budget_follows_the_key_mode(key: str | None, budget: float) -> None:
    settings = StripeSettings(api_key=SecretStr(key) if key else None)
    assert settings.account_budget == budget


def test_a_configured_budget_wins_over_the_key_mode() -> None:
    settings = StripeSettings(api_key=SecretStr("sk_live_x"), account_requests_per_second=40)
    assert settings.account_budget == 40
