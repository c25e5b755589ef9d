"""Parameters are checked against stripe.params: a bad one is always a 400 naming it."""

from __future__ import annotations

import string
from typing import Any

import pytest
import stripe
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cpqsync_sandbox.stripe_emulator import StripeEmulator
from cpqsync_sandbox.stripe_emulator.errors import StripeApiError
from cpqsync_sandbox.stripe_emulator.form_decoding import parse_form
from cpqsync_sandbox.stripe_emulator.validation import SchemaCompiler, validate
from tests.stripe_emulator.conftest import make_client

PRICE_CREATE = SchemaCompiler().compile(stripe.params.PriceCreateParams)
KNOWN = set(PRICE_CREATE.fields)
SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

names = st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=20).filter(
    lambda n: n not in KNOWN
)
not_integers = st.text(alphabet=string.ascii_letters + ".-", min_size=1, max_size=8).filter(
    lambda s: not s.lstrip("-").isdigit()
)
not_booleans = st.text(alphabet=string.ascii_letters, min_size=1, max_size=8).filter(
    lambda s: s not in ("true", "false")
)


def valid_price(product: str) -> dict[str, Any]:
    return {"currency": "usd", "product": product, "unit_amount": 100}


@pytest.fixture(scope="module")
def shared() -> Any:
    """One emulator for the property tests: every example fails validation, so none
    leaves state behind."""
    with StripeEmulator() as emu:
        client = make_client(emu)
        client.v1.products.create(params={"id": "prod_v", "name": "V"})
        yield client


@SETTINGS
@given(name=names, value=st.text(max_size=10))
def test_unknown_top_level_parameter(shared: stripe.StripeClient, name: str, value: str) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        shared.v1.prices.create(params={**valid_price("prod_v"), name: value})  # type: ignore[typeddict-item]
    assert info.value.http_status == 400
    assert info.value.param == name
    assert info.value.user_message == f"Received unknown parameter: {name}"


@SETTINGS
@given(name=names)
def test_unknown_nested_parameter(shared: stripe.StripeClient, name: str) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        shared.v1.prices.create(
            params={**valid_price("prod_v"), "recurring": {"interval": "month", name: "1"}}  # type: ignore[typeddict-item]
        )
    assert info.value.param == f"recurring[{name}]"


@SETTINGS
@given(
    field=st.sampled_from(
        [
            "unit_amount",
            "recurring[interval_count]",
            "tiers[0][up_to]",
            "active",
            "recurring[interval]",
        ]
    ),
    bad_int=not_integers,
    bad_bool=not_booleans,
)
def test_mistyped_values(
    shared: stripe.StripeClient, field: str, bad_int: str, bad_bool: str
) -> None:
    params: dict[str, Any] = valid_price("prod_v")
    if field == "unit_amount":
        params["unit_amount"] = bad_int
    elif field == "recurring[interval_count]":
        params["recurring"] = {"interval": "month", "interval_count": bad_int}
    elif field == "tiers[0][up_to]":
        del params["unit_amount"]
        params.update(
            billing_scheme="tiered",
            tiers_mode="volume",
            recurring={"interval": "month"},
            tiers=[{"up_to": bad_int if bad_int != "inf" else "x", "unit_amount": 1}],
        )
    elif field == "active":
        params["active"] = bad_bool
    else:
        params["recurring"] = {"interval": bad_bool + "ly"}
    with pytest.raises(stripe.InvalidRequestError) as info:
        shared.v1.prices.create(params=params)  # type: ignore[arg-type]
    assert info.value.http_status == 400
    assert info.value.param == field


@SETTINGS
@given(body=st.lists(st.tuples(st.text(max_size=12), st.text(max_size=6)), max_size=6))
def test_arbitrary_form_bodies_never_crash_the_validator(body: list[tuple[str, str]]) -> None:
    """Whatever arrives, the answer is a Stripe 400 or valid params, never an exception."""
    from urllib.parse import urlencode

    try:
        validate(PRICE_CREATE, parse_form(urlencode(body)))
    except StripeApiError as error:
        assert error.status == 400


def test_missing_required_parameter(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.prices.create(params={"unit_amount": 1, "product": "p"})  # type: ignore[typeddict-item]
    assert info.value.param == "currency"
    assert info.value.user_message == "Missing required param: currency."


def test_missing_nested_required_parameter(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.prices.create(
            params={"currency": "usd", "unit_amount": 1, "recurring": {"interval_count": 2}}  # type: ignore[typeddict-item]
        )
    assert info.value.param == "recurring[interval]"


def test_hash_where_a_string_belongs(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.prices.create(params={"currency": {"a": "b"}, "unit_amount": 1})  # type: ignore[typeddict-item]
    assert info.value.param == "currency"


def test_list_and_retrieve_params_are_validated_too(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.prices.list(params={"limit": "many"})  # type: ignore[typeddict-item]
    assert info.value.param == "limit"
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.customers.list(params={"colour": "blue"})  # type: ignore[typeddict-unknown-key]
    assert info.value.param == "colour"


def test_request_options_are_not_parameters(client: stripe.StripeClient) -> None:
    """The params TypedDicts inherit RequestOptions; those names travel as headers only."""
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.customers.create(params={"idempotency_key": "x"})
    assert info.value.param == "idempotency_key"


def test_form_decoding_rebuilds_nesting() -> None:
    decoded = parse_form("phases[0][items][0][price]=p&phases[0][items][0][quantity]=2&expand[]=a")
    assert decoded == {
        "phases": {"0": {"items": {"0": {"price": "p", "quantity": "2"}}}},
        "expand": {"0": "a"},
    }
