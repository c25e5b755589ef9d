"""Idempotency keys behave as Stripe documents them, seen through the real client."""

from __future__ import annotations

import time

import pytest
import stripe

from cpqsync_sandbox.stripe_emulator import StripeEmulator
from tests.stripe_emulator.conftest import make_client


def test_same_key_same_params_replays_the_first_response(
    client: stripe.StripeClient, emulator: StripeEmulator
) -> None:
    options: stripe.RequestOptions = {"idempotency_key": "sf-001A-customer-abc"}
    first = client.v1.customers.create(params={"name": "Acme"}, options=options)
    second = client.v1.customers.create(params={"name": "Acme"}, options=options)
    assert second.id == first.id
    assert second.last_response is not None and first.last_response is not None
    assert second.last_response.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.last_response.headers
    assert second.last_response.headers["Original-Request"] == first.last_response.request_id
    assert len(emulator.objects("customer")) == 1
    assert [e.replayed for e in emulator.request_log()] == [False, True]


def test_same_key_different_params_is_an_idempotency_error(client: stripe.StripeClient) -> None:
    client.v1.customers.create(params={"name": "Acme"}, options={"idempotency_key": "k"})
    with pytest.raises(stripe.IdempotencyError) as info:
        client.v1.customers.create(params={"name": "Other"}, options={"idempotency_key": "k"})
    assert info.value.http_status == 400
    assert "same parameters" in str(info.value.user_message)
    with pytest.raises(stripe.IdempotencyError, match="same endpoint"):
        client.v1.products.create(params={"name": "Acme"}, options={"idempotency_key": "k"})


def test_keys_are_scoped_per_api_key(emulator: StripeEmulator) -> None:
    ours = make_client(emulator)
    theirs = make_client(emulator, api_key="sk_test_another_account")
    a = ours.v1.customers.create(params={"name": "A"}, options={"idempotency_key": "shared"})
    b = theirs.v1.customers.create(params={"name": "A"}, options={"idempotency_key": "shared"})
    assert a.id != b.id


def test_keys_expire_after_the_retention(
    client: stripe.StripeClient, emulator: StripeEmulator
) -> None:
    emulator.set_idempotency_retention(0.05)
    first = client.v1.customers.create(params={}, options={"idempotency_key": "old"})
    time.sleep(0.1)
    again = client.v1.customers.create(params={}, options={"idempotency_key": "old"})
    assert again.id != first.id  # pruned: Stripe runs the request afresh


def test_validation_failures_are_not_stored(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.create(params={"nam": "typo"}, options={"idempotency_key": "v"})  # type: ignore[typeddict-unknown-key]
    fixed = client.v1.customers.create(params={"name": "ok"}, options={"idempotency_key": "v"})
    assert fixed.name == "ok"


def test_errors_after_execution_started_are_replayed(client: stripe.StripeClient) -> None:
    params: stripe.params.PriceCreateParams = {
        "currency": "usd",
        "product": "prod_later",
        "unit_amount": 1,
    }
    with pytest.raises(stripe.InvalidRequestError) as first:
        client.v1.prices.create(params=params, options={"idempotency_key": "p"})
    client.v1.products.create(params={"id": "prod_later", "name": "Later"})
    with pytest.raises(stripe.InvalidRequestError) as replay:
        client.v1.prices.create(params=params, options={"idempotency_key": "p"})
    assert replay.value.code == first.value.code == "resource_missing"
    assert replay.value.headers is not None
    assert replay.value.headers["Idempotent-Replayed"] == "true"


def test_overlong_key_is_refused(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.IdempotencyError):
        client.v1.customers.create(params={}, options={"idempotency_key": "k" * 256})
