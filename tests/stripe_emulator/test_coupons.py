"""Coupons as Stripe keeps them (rule A5): one coupon per id, terms fixed once created (only the
name and metadata change), a name of at most 40 characters; refusals in Stripe's shape."""

from __future__ import annotations

import pytest
import stripe


def test_a_second_coupon_under_an_id_in_use_is_refused(client: stripe.StripeClient) -> None:
    client.v1.coupons.create({"id": "sf_coupon_a0O1", "percent_off": 10, "duration": "once"})
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.coupons.create({"id": "sf_coupon_a0O1", "percent_off": 10, "duration": "once"})
    assert info.value.http_status == 400
    assert info.value.code == "resource_already_exists"
    assert info.value.param == "id"
    # The first one is untouched, and found by its id.
    assert client.v1.coupons.retrieve("sf_coupon_a0O1").percent_off == 10


def test_a_coupons_terms_cannot_be_updated_only_its_name_and_metadata(
    client: stripe.StripeClient,
) -> None:
    coupon = client.v1.coupons.create(
        {"amount_off": 500, "currency": "usd", "duration": "forever", "name": "Old"}
    )
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.coupons.update(coupon.id, {"amount_off": 900})  # type: ignore[typeddict-unknown-key]
    assert info.value.http_status == 400
    assert "amount_off" in str(info.value.user_message)
    renamed = client.v1.coupons.update(coupon.id, {"name": "New", "metadata": {"k": "v"}})
    assert (renamed.name, renamed.metadata["k"], renamed.amount_off) == ("New", "v", 500)


def test_a_coupon_name_longer_than_40_characters_is_refused(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.coupons.create({"percent_off": 5, "duration": "once", "name": "x" * 41})
    assert (info.value.http_status, info.value.param) == (400, "name")


def test_a_deleted_coupon_is_no_longer_found(client: stripe.StripeClient) -> None:
    coupon = client.v1.coupons.create({"percent_off": 5, "duration": "once"})
    client.v1.coupons.delete(coupon.id)
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.coupons.retrieve(coupon.id)
    assert (info.value.http_status, info.value.code) == (404, "resource_missing")
