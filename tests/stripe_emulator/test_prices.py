"""Prices: every shape cpqsync creates, the semantic checks Stripe makes, immutability."""

from __future__ import annotations

from decimal import Decimal

import pytest
import stripe


def test_one_time_price_with_decimal_amount(
    client: stripe.StripeClient, product: stripe.Product
) -> None:
    price = client.v1.prices.create(
        params={"currency": "USD", "product": product.id, "unit_amount_decimal": "1999.5"}
    )
    assert price.type == "one_time" and price.recurring is None
    assert price.currency == "usd"
    assert price.unit_amount_decimal == Decimal("1999.5")
    assert price.unit_amount is None  # fractional minor units have no integer form


def test_recurring_price_interval_and_usage(
    client: stripe.StripeClient, product: stripe.Product
) -> None:
    price = client.v1.prices.create(
        params={
            "currency": "eur",
            "product": product.id,
            "unit_amount": 4500,
            "recurring": {"interval": "month", "interval_count": 3},
        }
    )
    assert price.type == "recurring"
    assert price.recurring is not None
    assert (price.recurring.interval, price.recurring.interval_count) == ("month", 3)
    assert price.recurring.usage_type == "licensed"
    assert price.unit_amount_decimal == Decimal("4500")


def test_tiered_price_returns_tiers_only_when_expanded(
    client: stripe.StripeClient, product: stripe.Product
) -> None:
    price = client.v1.prices.create(
        params={
            "currency": "usd",
            "product": product.id,
            "billing_scheme": "tiered",
            "tiers_mode": "volume",
            "recurring": {"interval": "month"},
            "tiers": [
                {"up_to": 100, "unit_amount_decimal": "50.5"},
                {"up_to": "inf", "unit_amount_decimal": "40", "flat_amount_decimal": "1000"},
            ],
        }
    )
    assert price.tiers_mode == "volume"
    assert "tiers" not in price  # Stripe includes tiers only on request
    expanded = client.v1.prices.retrieve(price.id, params={"expand": ["tiers"]})
    assert expanded.tiers is not None
    assert [t.up_to for t in expanded.tiers] == [100, None]
    assert expanded.tiers[0].unit_amount_decimal == Decimal("50.5")
    assert expanded.tiers[1].flat_amount == 1000


@pytest.mark.parametrize(
    ("tiers", "param"),
    [
        ([{"up_to": 10, "unit_amount": 1}], "tiers[0][up_to]"),
        ([{"up_to": "inf", "unit_amount": 1}, {"up_to": 5, "unit_amount": 1}], "tiers[0][up_to]"),
        (
            [{"up_to": "inf", "unit_amount": 1, "unit_amount_decimal": "1"}],
            "tiers[0][unit_amount_decimal]",
        ),
        ([{"up_to": "inf"}], "tiers[0][unit_amount]"),
    ],
)
def test_invalid_tiers_name_the_tier(
    client: stripe.StripeClient, product: stripe.Product, tiers: list[dict[str, object]], param: str
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.prices.create(
            params={
                "currency": "usd",
                "product": product.id,
                "billing_scheme": "tiered",
                "tiers_mode": "graduated",
                "recurring": {"interval": "month"},
                "tiers": tiers,  # type: ignore[typeddict-item]
            }
        )
    assert info.value.param == param


def test_metered_price_needs_an_active_meter(
    client: stripe.StripeClient, product: stripe.Product
) -> None:
    base = {"currency": "usd", "product": product.id, "unit_amount": 10}
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.prices.create(
            params={**base, "recurring": {"interval": "month", "usage_type": "metered"}}
        )
    assert info.value.param == "recurring[meter]"
    meter = client.v1.billing.meters.create(
        params={
            "display_name": "API calls",
            "event_name": "api_call",
            "default_aggregation": {"formula": "sum"},
        }
    )
    price = client.v1.prices.create(
        params={
            **base,
            "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id},
        }
    )
    assert price.recurring is not None and price.recurring.meter == meter.id
    client.v1.billing.meters.deactivate(meter.id)
    with pytest.raises(stripe.InvalidRequestError, match="inactive"):
        client.v1.prices.create(
            params={
                **base,
                "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id},
            }
        )


def test_unit_amount_and_decimal_are_exclusive(
    client: stripe.StripeClient, product: stripe.Product
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.prices.create(
            params={
                "currency": "usd",
                "product": product.id,
                "unit_amount": 1,
                "unit_amount_decimal": "1",
            }
        )
    assert info.value.param == "unit_amount_decimal"
    assert "only specify one" in str(info.value.user_message)


def test_more_than_twelve_decimal_places_is_refused(
    client: stripe.StripeClient, product: stripe.Product
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.prices.create(
            params={
                "currency": "usd",
                "product": product.id,
                "unit_amount_decimal": "1.1234567890123",
            }
        )
    assert info.value.param == "unit_amount_decimal"


def test_price_for_missing_product_names_the_param(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.prices.create(params={"currency": "usd", "product": "prod_x", "unit_amount": 1})
    assert (info.value.code, info.value.param, info.value.http_status) == (
        "resource_missing",
        "product",
        400,
    )


def test_immutable_fields_cannot_be_updated(
    client: stripe.StripeClient, monthly_price: stripe.Price
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.prices.update(monthly_price.id, params={"unit_amount": 5})  # type: ignore[typeddict-unknown-key]
    assert info.value.param == "unit_amount"
    assert info.value.user_message == "Received unknown parameter: unit_amount"
    archived = client.v1.prices.update(
        monthly_price.id, params={"active": False, "nickname": "old", "metadata": {"v": "1"}}
    )
    assert (archived.active, archived.nickname, archived.metadata["v"]) == (False, "old", "1")


def test_lookup_key_needs_transfer_to_move(
    client: stripe.StripeClient, product: stripe.Product
) -> None:
    params = {"currency": "usd", "product": product.id, "lookup_key": "sf_pbe_01u1"}
    old = client.v1.prices.create(params={**params, "unit_amount": 100})  # type: ignore[typeddict-item]
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.prices.create(params={**params, "unit_amount": 200})  # type: ignore[typeddict-item]
    assert info.value.param == "lookup_key" and old.id in str(info.value.user_message)
    new = client.v1.prices.create(
        params={**params, "unit_amount": 200, "transfer_lookup_key": True}  # type: ignore[typeddict-item]
    )
    assert client.v1.prices.retrieve(old.id).lookup_key is None
    found = client.v1.prices.list(params={"lookup_keys": ["sf_pbe_01u1"]})
    assert [p.id for p in found.data] == [new.id]


def test_list_filters_and_lookup_key_limit(
    client: stripe.StripeClient, product: stripe.Product, monthly_price: stripe.Price
) -> None:
    one_time = client.v1.prices.create(
        params={"currency": "usd", "product": product.id, "unit_amount": 1}
    )
    recurring = client.v1.prices.list(params={"product": product.id, "type": "recurring"})
    assert [p.id for p in recurring.data] == [monthly_price.id]
    assert [p.id for p in client.v1.prices.list(params={"type": "one_time"}).data] == [one_time.id]
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.prices.list(params={"lookup_keys": [f"k{i}" for i in range(11)]})
    assert info.value.param == "lookup_keys"


def test_price_with_product_data_creates_the_product(client: stripe.StripeClient) -> None:
    price = client.v1.prices.create(
        params={"currency": "usd", "unit_amount": 5, "product_data": {"name": "Inline"}}
    )
    assert client.v1.products.retrieve(str(price.product)).name == "Inline"


def test_list_expands_products_and_refuses_non_references(
    client: stripe.StripeClient, monthly_price: stripe.Price
) -> None:
    listed = client.v1.prices.list(params={"expand": ["data.product"]})
    assert isinstance(listed.data[0].product, stripe.Product)
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.prices.retrieve(monthly_price.id, params={"expand": ["currency"]})
    assert info.value.param == "expand"
