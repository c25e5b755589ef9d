"""Stripe emulator throughput: price creates per second, beside a trivial aiohttp handler.

The emulator must never be what limits cpqsync's own benchmarks (target ≥ 1,000 price
creates/s with zero injected latency). Both servers run the same way (aiohttp on its
own loop thread in this process) and are driven by the same load generator: an aiohttp
client with C concurrent connections posting the exact form body stripe-python sends
for a recurring price (with Authorization and a fresh Idempotency-Key each time).
Rounds alternate between the two servers so a noisy neighbour slows both alike; the
median round counts and the ratio is what to compare across machines.

A third figure shows the official stripe client (one thread, requests) creating prices
against the emulator: the rate a single synchronous sync worker could reach.

Run: ``python bench/stripe_emulator.py [--seconds S] [--rounds R] [--concurrency C]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
import stripe
from aiohttp import web
from stripe._encode import _api_encode

from cpqsync_sandbox.stripe_emulator import StripeEmulator

TARGET = 1_000


class TrivialServer:
    """The floor: an aiohttp handler that answers a fixed small JSON body."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        async def handler(request: web.Request) -> web.Response:
            await request.read()
            return web.json_response({"id": "price_x", "object": "price"})

        async def start() -> None:
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", handler)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(start())
        self._ready.set()
        self.loop.run_forever()

    def start(self) -> str:
        self._thread.start()
        self._ready.wait(10)
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)


def price_body(product: str) -> str:
    params = {
        "currency": "usd",
        "product": product,
        "unit_amount_decimal": "12000",
        "recurring": {"interval": "month", "interval_count": 1},
        "metadata": {"salesforce_pricebookentry_id": "01u000000000001AAA"},
    }
    return urlencode(list(_api_encode(params))).replace("%5B", "[").replace("%5D", "]")


async def drive(base: str, api_key: str, body: str, seconds: float, concurrency: int) -> float:
    """Requests per second answered 200 during ``seconds``."""
    done = 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                headers = {
                    "Authorization": f"Bearer {api_key}",
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Idempotency-Key": uuid.uuid4().hex,
                    "Stripe-Version": "2026-10-28.endive",
                }
                async with session.post(f"{base}/v1/prices", data=body, headers=headers) as r:
                    await r.read()
                    if r.status != 200:
                        raise RuntimeError(f"HTTP {r.status}: {await r.text()}")
                    done += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done / (time.perf_counter() - started)


def client_rate(emu: StripeEmulator, product: str, seconds: float) -> float:
    client = stripe.StripeClient(
        api_key=emu.api_key, base_addresses={"api": emu.api_base}, max_network_retries=0
    )
    done, deadline = 0, time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        client.v1.prices.create(
            params={
                "currency": "usd",
                "product": product,
                "unit_amount_decimal": "12000",
                "recurring": {"interval": "month"},
            }
        )
        done += 1
    return done / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    trivial = TrivialServer()
    trivial_base = trivial.start()
    with StripeEmulator() as emu:
        stripe.StripeClient(
            api_key=emu.api_key, base_addresses={"api": emu.api_base}
        ).v1.products.create(params={"id": "prod_bench", "name": "Bench"})
        body = price_body("prod_bench")
        emulator_rates, trivial_rates = [], []
        for _ in range(args.rounds):
            emulator_rates.append(
                asyncio.run(drive(emu.api_base, emu.api_key, body, args.seconds, args.concurrency))
            )
            trivial_rates.append(
                asyncio.run(drive(trivial_base, emu.api_key, body, args.seconds, args.concurrency))
            )
        single = client_rate(emu, "prod_bench", args.seconds)
        created = len(emu.objects("price"))
    trivial.stop()

    emulator_rate = statistics.median(emulator_rates)
    trivial_rate = statistics.median(trivial_rates)
    print(f"rounds: {args.rounds} x {args.seconds:.0f} s, concurrency {args.concurrency}")
    for label, rate, rounds in (
        ("emulator price creates/s", emulator_rate, emulator_rates),
        ("trivial aiohttp handler req/s", trivial_rate, trivial_rates),
    ):
        print(f"{label:34} {rate:10,.0f}   rounds {[round(r) for r in rounds]}")
    print(f"{'ratio emulator / trivial':34} {emulator_rate / trivial_rate:10.2f}")
    print(f"{'stripe client, 1 thread, creates/s':34} {single:10,.0f}")
    print(f"prices stored: {created:,}")
    verdict = "PASS" if emulator_rate >= TARGET else "BELOW TARGET"
    print(f"target >= {TARGET:,} price creates/s: {verdict}")
    return 0 if emulator_rate >= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
