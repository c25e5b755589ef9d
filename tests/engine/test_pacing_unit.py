"""Token bucket pacing with AIMD: halve on 429, recover additively, honour Retry-After."""

from __future__ import annotations

import threading
import time

import pytest
from prometheus_client import CollectorRegistry

from consumer.engine.pacing import Pacer, TokenBucket


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_bucket_spaces_requests_at_its_rate_after_the_burst() -> None:
    t = FakeTime()
    bucket = TokenBucket(rate=5, capacity=2, clock=t.clock, sleep=t.sleep)
    for _ in range(12):
        bucket.acquire()
    assert t.now == pytest.approx(2.0), "2 burst tokens, then 10 more at 5/s"


def test_rate_halves_on_429_and_recovers_additively() -> None:
    t = FakeTime()
    pacer = Pacer(
        "stripe",
        20,
        recovery_per_s=2,
        registry=CollectorRegistry(),
        clock=t.clock,
        sleep=t.sleep,
    )
    pacer.on_rate_limited()
    assert pacer.rate == 10
    pacer.on_rate_limited()
    assert pacer.rate == 5
    t.now += 2.5
    assert pacer.rate == pytest.approx(10), "2 requests/s more for each second without 429"
    t.now += 100
    assert pacer.rate == 20, "never above the configured share"


def test_rate_never_falls_below_the_floor() -> None:
    pacer = Pacer("stripe", 8, min_rate=1, registry=CollectorRegistry())
    for _ in range(10):
        pacer.on_rate_limited()
    assert pacer.rate == pytest.approx(1, abs=0.01)


def test_retry_after_blocks_every_caller() -> None:
    t = FakeTime()
    registry = CollectorRegistry()
    pacer = Pacer("stripe", 100, registry=registry, clock=t.clock, sleep=t.sleep)
    pacer.on_rate_limited(retry_after=3.0)
    assert (
        registry.get_sample_value("cpqsync_engine_pacer_rate_per_second", {"pacer": "stripe"}) == 50
    )
    waited = pacer.acquire()
    assert waited == pytest.approx(3.0)
    assert (
        registry.get_sample_value("cpqsync_engine_pacer_rate_limited_total", {"pacer": "stripe"})
        == 1
    )
    assert registry.get_sample_value(
        "cpqsync_engine_pacer_rate_per_second", {"pacer": "stripe"}
    ) == pytest.approx(80), "the rate recovered by 10/s during the 3 s wait"


def test_threads_sharing_a_bucket_stay_under_its_rate() -> None:
    bucket = TokenBucket(rate=200, capacity=1)
    started = time.monotonic()

    def work() -> None:
        for _ in range(10):
            bucket.acquire()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    assert elapsed >= 79 / 200 * 0.95, f"80 requests at 200/s took only {elapsed:.3f}s"


def test_nonsense_rates_are_refused() -> None:
    with pytest.raises(ValueError, match="rate must be > 0"):
        TokenBucket(rate=0)
    with pytest.raises(ValueError, match="max_rate must be > 0"):
        Pacer("x", -1, registry=CollectorRegistry())


def test_callers_from_before_and_after_a_recovery_do_not_go_out_together() -> None:
    """Callers who arrived while a 429 had halved the rate must not keep slow-paced send
    times that later, fast-paced callers overlap (the sync saw 116 sends in one second at
    a 90/s pace): every stretch of time stays within the rate of the moment plus the burst."""
    bucket = TokenBucket(rate=200, capacity=1)
    bucket.set_rate(100)  # a 429 halved it
    sent: list[float] = []
    lock = threading.Lock()

    def call() -> None:
        bucket.acquire()
        with lock:
            sent.append(time.monotonic())

    early = [threading.Thread(target=call) for _ in range(60)]
    late = [threading.Thread(target=call) for _ in range(60)]
    for thread in early:
        thread.start()
    time.sleep(0.05)
    bucket.set_rate(200)  # recovered
    for thread in late:
        thread.start()
    for thread in early + late:
        thread.join(10)
    assert len(sent) == 120
    sent.sort()
    window = 0.2
    busiest = max(
        sum(1 for other in sent[i:] if other - start < window) for i, start in enumerate(sent)
    )
    # At 200/s a 0.2 s window holds 40, plus the one-token burst, plus slack for timing.
    assert busiest <= 40 + 1 + 4, f"{busiest} sends within {window}s at a 200/s pace"
