"""An emulator per test (it starts in milliseconds) and the real stripe client pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import stripe

from cpqsync_sandbox.stripe_emulator import StripeEmulator

FROZEN = 1_767_225_600  # 2026-01-01T00:00:00Z


@pytest.fixture
def emulator() -> Iterator[StripeEmulator]:
    emu = StripeEmulator()
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()


def make_client(emu: StripeEmulator, **kwargs: Any) -> stripe.StripeClient:
    options: dict[str, Any] = {"max_network_retries": 0, **kwargs}
    return stripe.StripeClient(
        api_key=options.pop("api_key", emu.api_key),
        base_addresses={"api": emu.api_base},
        **options,
    )


@pytest.fixture
def client(emulator: StripeEmulator) -> stripe.StripeClient:
    return make_client(emulator)


@pytest.fixture
def product(client: stripe.StripeClient) -> stripe.Product:
    return client.v1.products.create(params={"id": "prod_sf_01t1", "name": "Platform"})


@pytest.fixture
def monthly_price(client: stripe.StripeClient, product: stripe.Product) -> stripe.Price:
    return client.v1.prices.create(
        params={
            "currency": "usd",
            "product": product.id,
            "unit_amount_decimal": "12000",
            "recurring": {"interval": "month"},
        }
    )


@pytest.fixture
def clocked_customer(client: stripe.StripeClient) -> Callable[[], stripe.Customer]:
    """A customer on a fresh test clock frozen at 2026-01-01."""

    def make() -> stripe.Customer:
        clock = client.v1.test_helpers.test_clocks.create(params={"frozen_time": FROZEN})
        return client.v1.customers.create(params={"name": "Clocked", "test_clock": clock.id})

    return make
