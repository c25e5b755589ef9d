"""The validator guarding plans and mapping defaults catches what Stripe would reject."""

from __future__ import annotations

import stripe.params as sp

from cpqsync.mapping.stripe_validation import problems


def test_a_valid_price_passes_with_placeholders_and_decimal_strings() -> None:
    params = {
        "currency": "usd",
        "product": "sf_01t",
        "unit_amount_decimal": "0.0001",
        "recurring": {"interval": "month", "interval_count": 3, "meter": {"$ref": "meter:x.id"}},
        "metadata": {"salesforce_pricebook_entry_id": "01u"},
    }
    assert problems(sp.PriceCreateParams, params) == []


def test_unknown_mistyped_and_missing_parameters_are_named() -> None:
    found = problems(
        sp.PriceCreateParams,
        {
            "product": 12,
            "unit_amount_decimal": 1.5,
            "recurring": {"interval": "month", "interval_count": "three", "iterations": 2},
        },
    )
    assert "product: expected a string, got 12" in found
    assert any(p.startswith("unit_amount_decimal: expected a decimal string") for p in found)
    assert "recurring.iterations: unknown parameter" in found
    assert "recurring.interval_count: expected an integer, got 'three'" in found
    assert "currency: required parameter missing" in found


def test_removed_schedule_iterations_is_refused() -> None:
    # Stripe removed phases[].iterations; plans must use end_date or duration instead.
    found = problems(
        sp.SubscriptionScheduleCreateParams,
        {"phases": [{"items": [{"price": "price_1"}], "iterations": 12}]},
    )
    assert found == ["phases[0].iterations: unknown parameter"]


def test_request_options_are_not_parameters() -> None:
    assert problems(sp.CustomerCreateParams, {"api_key": "sk_test_x"}) == [
        "api_key: unknown parameter"
    ]


def test_decimal_with_more_than_twelve_places_is_refused() -> None:
    assert problems(
        sp.PriceCreateParams, {"currency": "usd", "unit_amount_decimal": "1.0000000000001"}
    )
