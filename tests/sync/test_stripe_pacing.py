"""What reaches Stripe in any one second stays within the pacer's rate and burst, also when a
429 halved the rate and it recovered while a crowd of threads was waiting for tokens (what a
32-worker sync with its per-root and per-stage threads looks like). Real threads and real time:
Stripe's limit is a sliding one-second window over the requests that actually go out."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from consumer.engine import Pacer
from consumer.sync.stripe_calls import StripeCaller

RATE = 100
BURST = 10


def busiest_second(sent: list[float]) -> int:
    sent = sorted(sent)
    start = busiest = 0
    for end, at in enumerate(sent):
        while sent[start] <= at - 1.0:
            start += 1
        busiest = max(busiest, end - start + 1)
    return busiest


def sends_of_a_crowd(**caller_options: Any) -> list[float]:
    """200 threads calling for 5 s; the API answers a 429 once, a second in."""
    pacer = Pacer(
        "stripe", RATE, capacity=BURST, recovery_per_s=RATE / 2, registry=CollectorRegistry()
    )
    caller = StripeCaller(object(), pacer, **caller_options)  # type: ignore[arg-type]
    sent: list[float] = []
    lock = threading.Lock()
    start = time.monotonic()
    stop = start + 5.0
    limited = threading.Event()
    stopping = threading.Event()

    def request(_client: object) -> None:
        now = time.monotonic()
        with lock:
            sent.append(now)
        if now - start > 1.0 and not limited.is_set():
            limited.set()
            pacer.on_rate_limited()  # what a 429 does (StripeCaller._congested)
        time.sleep(0.05)  # the round trip

    def worker() -> None:
        while not stopping.is_set():
            caller.call(request)

    threads = [threading.Thread(target=worker) for _ in range(200)]
    for thread in threads:
        thread.start()
    time.sleep(stop - time.monotonic())
    stopping.set()
    for thread in threads:
        thread.join()
    return [at for at in sent if at < stop]


def test_a_crowd_of_callers_stays_under_the_rate_after_it_halved_and_recovered() -> None:
    sent = sends_of_a_crowd()
    assert busiest_second(sent) <= RATE + BURST + 2  # a little for thread scheduling
    # And the pipe stays full: the halving costs about a second at a lower rate, no more.
    assert len(sent) >= 4.2 * RATE


@pytest.mark.slow
def test_without_a_short_queue_the_recovered_rate_overshoots() -> None:
    """The reason for ``MAX_WAITING``: the same crowd, every caller queued at the pacer (the
    callers that asked at the halved rate go out late, together with those asking after it
    recovered: about twice the rate in one second)."""
    assert busiest_second(sends_of_a_crowd(max_waiting=1_000)) > RATE + BURST + 2
