"""Billing reads against the Stripe emulator: the current object, None for a missing one,
and the world's failures (429, a revoked key) raised as retryable, never as data errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stripe
from prometheus_client import CollectorRegistry

from consumer.engine import DependencyDown, Pacer, RetryableError
from consumer.writeback.billing_reads import BillingReader
from cpqsync_sandbox.stripe_emulator import StripeEmulator


@pytest.fixture
def emulator() -> Iterator[StripeEmulator]:
    with StripeEmulator() as emu:
        yield emu


def _client(emu: StripeEmulator, key: str | None = None) -> stripe.StripeClient:
    return stripe.StripeClient(
        key or emu.api_key, base_addresses={"api": emu.api_base}, max_network_retries=0
    )


def test_reads_the_current_object_and_none_for_a_missing_one(emulator: StripeEmulator) -> None:
    client = _client(emulator)
    customer = client.v1.customers.create(params={"name": "Acme"})
    reader = BillingReader(client)
    assert reader.customer(customer.id)["name"] == "Acme"  # type: ignore[index]
    client.v1.customers.delete(customer.id)
    assert reader.customer(customer.id) is None
    assert reader.invoice("in_missing") is None
    assert reader.subscription("sub_missing") is None


def test_rate_limits_and_bad_keys_are_retryable_and_slow_the_pacer(
    emulator: StripeEmulator,
) -> None:
    client = _client(emulator)
    customer = client.v1.customers.create(params={"name": "Acme"})
    pacer = Pacer("billing-test", 50.0, registry=CollectorRegistry())
    reader = BillingReader(client, pacer)
    emulator.set_rate_limit(1)
    with pytest.raises(RetryableError, match="rate limit"):
        for _ in range(5):
            reader.customer(customer.id)
    assert pacer.rate < 50.0
    emulator.set_rate_limit(None)
    revoked = BillingReader(_client(emulator, "sk_live_revoked"))
    with pytest.raises(DependencyDown) as error:
        revoked.customer(customer.id)
    assert "sk_live_revoked" not in str(error.value)
    assert (error.value.dependency, error.value.setting) == ("stripe", "stripe.api_key")
    with pytest.raises(DependencyDown):
        revoked.probe()
    BillingReader(client).probe()


def test_stripe_answering_5xx_is_stripe_down_for_the_billing_reads(
    emulator: StripeEmulator,
) -> None:
    reader = BillingReader(_client(emulator))
    emulator.configure_faults({"kind": "error", "rate": 1.0, "status": 503})
    with pytest.raises(DependencyDown) as error:
        reader.invoice("in_any")
    assert error.value.setting == "stripe.api_base"
    emulator.configure_faults()
    assert reader.invoice("in_missing") is None
