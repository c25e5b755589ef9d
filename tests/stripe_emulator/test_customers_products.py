"""Customers and products through the real stripe client."""

from __future__ import annotations

import pytest
import stripe


def test_customer_round_trip_with_address_and_metadata(client: stripe.StripeClient) -> None:
    created = client.v1.customers.create(
        params={
            "name": "Acme",
            "email": "billing@acme.test",
            "address": {"line1": "1 Main St", "city": "Springfield", "country": "US"},
            "shipping": {"name": "Dock", "address": {"line1": "2 Pier"}},
            "metadata": {"salesforce_account_id": "001A"},
        }
    )
    assert isinstance(created, stripe.Customer)
    assert created.id.startswith("cus_")
    fetched = client.v1.customers.retrieve(created.id)
    assert fetched.address is not None and fetched.address.city == "Springfield"
    assert fetched.shipping is not None and fetched.shipping.name == "Dock"
    assert fetched.metadata.to_dict() == {"salesforce_account_id": "001A"}
    assert fetched.livemode is False and fetched.created > 0


def test_customer_update_unsets_metadata_with_empty_string(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(params={"metadata": {"a": "1", "b": "2"}})
    updated = client.v1.customers.update(
        customer.id, params={"name": "Renamed", "metadata": {"a": ""}}
    )
    assert updated.name == "Renamed"
    assert updated.metadata.to_dict() == {"b": "2"}


def test_customer_list_by_email_is_exact_and_case_sensitive(client: stripe.StripeClient) -> None:
    client.v1.customers.create(params={"email": "a@x.test"})
    client.v1.customers.create(params={"email": "A@x.test"})
    found = client.v1.customers.list(params={"email": "a@x.test"})
    assert [c.email for c in found.data] == ["a@x.test"]


def test_deleted_customer_answers_its_stub_and_refuses_updates(
    client: stripe.StripeClient,
) -> None:
    customer = client.v1.customers.create(params={"name": "Gone"})
    deleted = client.v1.customers.delete(customer.id)
    assert deleted.deleted is True
    assert client.v1.customers.retrieve(customer.id).deleted is True
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.customers.update(customer.id, params={"name": "Back"})
    assert info.value.http_status == 404 and info.value.code == "resource_missing"


def test_unknown_customer_is_404_resource_missing(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.customers.retrieve("cus_missing")
    assert info.value.http_status == 404
    assert info.value.code == "resource_missing"
    assert info.value.user_message == "No such customer: 'cus_missing'"


def test_customer_on_missing_test_clock_is_rejected(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.customers.create(params={"test_clock": "clock_nope"})
    assert info.value.param == "test_clock"


def test_list_paginates_newest_first(client: stripe.StripeClient) -> None:
    ids = [client.v1.customers.create(params={"name": str(i)}).id for i in range(5)]
    first = client.v1.customers.list(params={"limit": 2})
    assert [c.id for c in first.data] == ids[::-1][:2] and first.has_more
    everything = [c.id for c in client.v1.customers.list(params={"limit": 2}).auto_paging_iter()]
    assert everything == ids[::-1]


def test_product_with_caller_chosen_id_is_unique(client: stripe.StripeClient) -> None:
    product = client.v1.products.create(
        params={"id": "sf_01t000000000001", "name": "Widget", "metadata": {"sf": "01t"}}
    )
    assert product.id == "sf_01t000000000001" and product.active is True
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.products.create(params={"id": "sf_01t000000000001", "name": "Again"})
    assert info.value.code == "resource_already_exists"
    assert info.value.param == "id"


def test_product_update_list_and_delete(client: stripe.StripeClient) -> None:
    kept = client.v1.products.create(params={"name": "Kept"})
    archived = client.v1.products.create(params={"name": "Archived"})
    client.v1.products.update(archived.id, params={"active": False, "description": "old"})
    active = client.v1.products.list(params={"active": True})
    assert [p.id for p in active.data] == [kept.id]
    by_ids = client.v1.products.list(params={"ids": [archived.id]})
    assert by_ids.data[0].description == "old"
    assert client.v1.products.delete(kept.id).deleted is True


def test_product_with_prices_cannot_be_deleted(
    client: stripe.StripeClient, monthly_price: stripe.Price
) -> None:
    with pytest.raises(stripe.InvalidRequestError, match="user-created prices"):
        client.v1.products.delete(str(monthly_price.product))
