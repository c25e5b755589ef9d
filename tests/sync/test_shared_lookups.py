"""Batches that miss the same pricebook prices or products at the same moment (a process
starting, a burst of new orders) ask Stripe once per key, not once per batch; a batch whose
answer was another's failed request asks again itself. Real client against the emulator."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from consumer.sync.failures import StripeUnavailable
from consumer.sync.stripe_directory import PriceDirectory, ProductDirectory
from cpqsync_sandbox.stripe_emulator import StripeEmulator
from tests.sync.test_request_economy import caller_for, new_price


def at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Each call's result (or exception), all started together."""
    outcomes: list[Any] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(index: int) -> None:
        start.wait()
        try:
            outcomes[index] = calls[index]()
        except Exception as error:  # the test looks at it
            outcomes[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def lookups(emulator: StripeEmulator, path: str) -> int:
    return sum(1 for e in emulator.request_log() if e.method == "GET" and e.path == path)


def test_batches_missing_the_same_pricebook_prices_ask_once(emulator: StripeEmulator) -> None:
    caller = caller_for(emulator)
    price = new_price(caller, "sf_pbe_1")
    emulator.set_latency(100)
    emulator.clear_request_log()
    prices = PriceDirectory(caller)
    keys = ["sf_pbe_1", "sf_pbe_2", "sf_pbe_3"]
    outcomes = at_once([lambda: prices.find(keys)[0] for _ in range(12)])
    assert all(set(found) == {"sf_pbe_1"} for found in outcomes)
    assert all(found["sf_pbe_1"]["id"] == price.id for found in outcomes)
    # One request per key at most, however the batches' claims interleaved (not 12).
    assert lookups(emulator, "/v1/prices") <= len(keys)


def test_a_batch_asks_itself_when_the_batch_it_waited_for_failed(
    emulator: StripeEmulator,
) -> None:
    caller = caller_for(emulator, network_retries=0)
    new_price(caller, "sf_pbe_1")
    emulator.set_latency(100)
    emulator.clear_request_log()
    emulator.configure_faults({"kind": "error", "nth": 1, "path": "^/v1/prices$"})
    prices = PriceDirectory(caller)
    outcomes = at_once([lambda: prices.find(["sf_pbe_1"])[0] for _ in range(6)])
    failed = [o for o in outcomes if isinstance(o, StripeUnavailable)]
    assert len(failed) == 1  # the one whose request met the 500
    assert all(set(o) == {"sf_pbe_1"} for o in outcomes if o not in failed)


def test_batches_missing_the_same_products_ask_once(emulator: StripeEmulator) -> None:
    caller = caller_for(emulator)
    caller.call(lambda c: c.v1.products.create({"id": "sf_01tA", "name": "A"}))
    emulator.set_latency(100)
    emulator.clear_request_log()
    products = ProductDirectory(caller)
    wanted = {"sf_01tA", "sf_01tB"}
    outcomes = at_once([lambda: products.existing(wanted) for _ in range(12)])
    assert outcomes == [{"sf_01tA"}] * 12
    assert lookups(emulator, "/v1/products") <= len(wanted)
