"""Rate limits, injected latency and faults, 501s and response headers, through the client
with ``max_network_retries`` off and on."""

from __future__ import annotations

import time

import pytest
import requests
import stripe

from cpqsync_sandbox.stripe_emulator import StripeEmulator
from tests.stripe_emulator.conftest import make_client


def short_timeout_client(emu: StripeEmulator, retries: int) -> stripe.StripeClient:
    return make_client(
        emu, max_network_retries=retries, http_client=stripe.RequestsClient(timeout=0.5)
    )


def test_rate_limit_answers_429_and_the_client_does_not_retry_it(
    emulator: StripeEmulator,
) -> None:
    emulator.set_rate_limit(5)
    client = make_client(emulator, max_network_retries=2)
    outcomes = []
    for _ in range(12):
        try:
            client.v1.customers.list()
            outcomes.append("ok")
        except stripe.RateLimitError as error:
            assert error.http_status == 429 and error.error is not None
            assert (error.error.type, error.error.code) == ("rate_limit_error", "rate_limit")
            outcomes.append("429")
    assert outcomes.count("ok") == 5 and outcomes.count("429") == 7
    assert len(emulator.request_log()) == 12  # 429s are never retried by the client
    time.sleep(1.05)
    client.v1.customers.list()  # the window has moved on


def test_rate_limit_is_per_api_key(emulator: StripeEmulator) -> None:
    emulator.set_rate_limit(1)
    make_client(emulator).v1.customers.list()
    make_client(emulator, api_key="sk_test_other").v1.customers.list()
    with pytest.raises(stripe.RateLimitError):
        make_client(emulator).v1.customers.list()


@pytest.mark.parametrize("retries", [0, 1])
def test_injected_500_before_execution(emulator: StripeEmulator, retries: int) -> None:
    emulator.configure_faults({"kind": "error", "nth": 1, "path": "^/v1/customers$"})
    client = make_client(emulator, max_network_retries=retries)
    if retries == 0:
        with pytest.raises(stripe.APIError) as info:
            client.v1.customers.create(params={"name": "A"})
        assert info.value.http_status == 500
        assert info.value.headers is not None
        assert info.value.headers["Stripe-Should-Retry"] == "true"
        assert emulator.objects("customer") == []
    else:
        created = client.v1.customers.create(params={"name": "A"})
        log = emulator.request_log()
        assert [e.status for e in log] == [500, 200]
        assert log[0].idempotency_key == log[1].idempotency_key  # the client reuses its key
        assert [c["id"] for c in emulator.objects("customer")] == [created.id]


def test_injected_500_after_execution_is_replayed_not_retried(emulator: StripeEmulator) -> None:
    emulator.configure_faults({"kind": "error", "nth": 1, "stage": "after"})
    client = make_client(emulator, max_network_retries=2)
    with pytest.raises(stripe.APIError) as info:
        client.v1.customers.create(params={"name": "A"}, options={"idempotency_key": "k"})
    assert info.value.headers is not None
    assert info.value.headers["Stripe-Should-Retry"] == "false"
    assert len(emulator.request_log()) == 1
    assert len(emulator.objects("customer")) == 1  # it ran; only the answer was lost
    with pytest.raises(stripe.APIError) as replay:
        client.v1.customers.create(params={"name": "A"}, options={"idempotency_key": "k"})
    assert replay.value.headers is not None
    assert replay.value.headers["Idempotent-Replayed"] == "true"


def test_injected_500_during_execution_makes_nothing_and_is_replayed(
    emulator: StripeEmulator,
) -> None:
    """The endpoint began and failed before making anything: Stripe stores that 500 for the
    key too, so the same key never makes the customer; a new key does."""
    emulator.configure_faults({"kind": "error", "nth": 1, "stage": "during"})
    client = make_client(emulator, max_network_retries=2)
    with pytest.raises(stripe.APIError) as info:
        client.v1.customers.create(params={"name": "A"}, options={"idempotency_key": "k"})
    assert info.value.headers is not None
    assert info.value.headers["Stripe-Should-Retry"] == "false"
    assert emulator.objects("customer") == []
    with pytest.raises(stripe.APIError) as replay:
        client.v1.customers.create(params={"name": "A"}, options={"idempotency_key": "k"})
    assert replay.value.http_status == 500
    assert replay.value.headers is not None
    assert replay.value.headers["Idempotent-Replayed"] == "true"
    assert emulator.objects("customer") == []
    created = client.v1.customers.create(params={"name": "A"}, options={"idempotency_key": "k2"})
    assert [c["id"] for c in emulator.objects("customer")] == [created.id]


def test_a_request_refused_before_it_began_stores_no_injected_500(
    emulator: StripeEmulator,
) -> None:
    """Parameter validation comes before execution: a fault meant to strike during it never
    does, and nothing is stored for the key."""
    (rule,) = emulator.configure_faults({"kind": "error", "nth": 1, "stage": "during"})
    client = make_client(emulator)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.create(
            params={"name": "A", "bogus": "1"},  # type: ignore[typeddict-unknown-key]
            options={"idempotency_key": "k"},
        )
    created = client.v1.customers.create(params={"name": "A"}, options={"idempotency_key": "k"})
    assert [c["id"] for c in emulator.objects("customer")] == [created.id]
    assert rule.fired == 1


def test_only_an_error_can_strike_during_a_request(emulator: StripeEmulator) -> None:
    with pytest.raises(ValueError, match="only an error"):
        emulator.configure_faults({"kind": "drop", "nth": 1, "stage": "during"})


@pytest.mark.parametrize("kind", ["drop", "timeout"])
def test_lost_connection_before_execution(emulator: StripeEmulator, kind: str) -> None:
    emulator.configure_faults({"kind": kind, "nth": 1, "hold_seconds": 3})
    with pytest.raises(stripe.APIConnectionError):
        short_timeout_client(emulator, retries=0).v1.customers.create(params={})
    assert emulator.objects("customer") == []
    emulator.configure_faults({"kind": kind, "nth": 1, "hold_seconds": 3})
    created = short_timeout_client(emulator, retries=1).v1.customers.create(params={})
    assert [c["id"] for c in emulator.objects("customer")] == [created.id]
    faults = [(e.fault, e.status) for e in emulator.request_log()]
    assert faults == [(kind, 0), (kind, 0), (None, 200)]


def test_dropped_after_execution_retry_is_replayed(emulator: StripeEmulator) -> None:
    emulator.configure_faults({"kind": "drop", "nth": 1, "stage": "after"})
    created = make_client(emulator, max_network_retries=1).v1.customers.create(params={"name": "A"})
    assert [c["id"] for c in emulator.objects("customer")] == [created.id]
    log = emulator.request_log()
    assert [(e.status, e.replayed) for e in log] == [(0, False), (200, True)]


def test_rate_based_fault_with_a_cap(emulator: StripeEmulator) -> None:
    (rule,) = emulator.configure_faults({"kind": "error", "rate": 1.0, "max_count": 2})
    client = make_client(emulator)
    results = []
    for _ in range(3):
        try:
            client.v1.customers.list()
            results.append(200)
        except stripe.APIError as error:
            results.append(error.http_status)
    assert results == [500, 500, 200]
    assert rule.fired == 2


def test_injected_latency(emulator: StripeEmulator, client: stripe.StripeClient) -> None:
    emulator.set_latency(150)
    started = time.perf_counter()
    client.v1.customers.list()
    assert time.perf_counter() - started >= 0.15
    emulator.set_latency(distribution="uniform", low_ms=0, high_ms=1)
    started = time.perf_counter()
    client.v1.customers.list()
    assert time.perf_counter() - started < 0.15


def test_unimplemented_endpoint_and_parameter_answer_501(emulator: StripeEmulator) -> None:
    client = make_client(emulator, max_network_retries=2)
    with pytest.raises(stripe.APIError) as info:
        client.v1.payment_intents.create(params={"amount": 100, "currency": "usd"})
    assert info.value.http_status == 501
    assert "POST /v1/payment_intents" in str(info.value.user_message)
    with pytest.raises(stripe.APIError) as info:
        client.v1.products.create(
            params={"name": "P", "default_price_data": {"currency": "usd", "unit_amount": 1}}
        )
    assert info.value.http_status == 501 and "default_price_data" in str(info.value.user_message)
    with pytest.raises(stripe.APIError) as info:
        client.v1.prices.search(params={"query": "active:'true'"})
    assert info.value.http_status == 501  # not mistaken for a price called "search"
    assert len(emulator.request_log()) == 3  # Stripe-Should-Retry: false stops retries


def test_every_response_has_a_request_id(emulator: StripeEmulator) -> None:
    auth = {"Authorization": f"Bearer {emulator.api_key}"}
    for method, path in [
        ("GET", "/v1/customers"),
        ("GET", "/v1/customers/cus_x"),
        ("GET", "/v2/x"),
    ]:
        response = requests.request(method, emulator.api_base + path, headers=auth, timeout=5)
        assert response.headers["Request-Id"].startswith("req_")
    no_key = requests.get(emulator.api_base + "/v1/customers", timeout=5)
    assert no_key.status_code == 401 and no_key.headers["Request-Id"].startswith("req_")


def test_bad_api_key_is_rejected_without_echoing_it(emulator: StripeEmulator) -> None:
    secret = "sk_live_abcdefghijklmnop1234"
    with pytest.raises(stripe.AuthenticationError) as info:
        make_client(emulator, api_key=secret).v1.customers.list()
    assert secret not in str(info.value.user_message)
    assert all(secret not in repr(e) for e in emulator.request_log())
