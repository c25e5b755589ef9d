"""One currency per customer (spec rule S5): what Stripe refuses, in Stripe's words."""

from __future__ import annotations

import pytest
import stripe

from cpqsync_sandbox.stripe_emulator import StripeEmulator


def _price(client: stripe.StripeClient, product: stripe.Product, currency: str) -> stripe.Price:
    return client.v1.prices.create(
        params={
            "currency": currency,
            "product": product.id,
            "unit_amount_decimal": "1000",
            "recurring": {"interval": "month"},
        }
    )


def _schedule(
    client: stripe.StripeClient, customer: str, price: str
) -> stripe.SubscriptionSchedule:
    return client.v1.subscription_schedules.create(
        params={
            "customer": customer,
            "start_date": 1_893_456_000,  # 2030-01-01: not started, still binds the currency
            "phases": [{"items": [{"price": price}], "duration": {"interval": "month"}}],
        }
    )


def test_a_schedule_in_another_currency_is_refused_and_leaves_nothing(
    client: stripe.StripeClient, emulator: StripeEmulator, product: stripe.Product
) -> None:
    customer = client.v1.customers.create(params={"name": "Acme UK"})
    assert customer.currency is None
    _schedule(client, customer.id, _price(client, product, "gbp").id)
    assert client.v1.customers.retrieve(customer.id).currency == "gbp"

    with pytest.raises(stripe.InvalidRequestError) as refused:
        _schedule(client, customer.id, _price(client, product, "usd").id)
    assert refused.value.http_status == 400
    assert refused.value.user_message == (
        "The currency of the selected prices (usd) does not match the customer currency (gbp)."
    )
    assert len(emulator.objects("subscription_schedule")) == 1

    # The customer's own currency is still welcome.
    _schedule(client, customer.id, _price(client, product, "gbp").id)


def test_an_update_to_prices_in_another_currency_is_refused(
    client: stripe.StripeClient, product: stripe.Product
) -> None:
    customer = client.v1.customers.create(params={"name": "Acme UK"})
    schedule = _schedule(client, customer.id, _price(client, product, "gbp").id)
    usd = _price(client, product, "usd")
    with pytest.raises(stripe.InvalidRequestError, match=r"prices \(usd\) does not match"):
        client.v1.subscription_schedules.update(
            schedule.id,
            params={"phases": [{"items": [{"price": usd.id}], "duration": {"interval": "month"}}]},
        )


def test_an_invoice_item_in_another_currency_cannot_be_combined(
    client: stripe.StripeClient, product: stripe.Product
) -> None:
    customer = client.v1.customers.create(params={"name": "Acme EU"})
    client.v1.invoice_items.create(
        params={"customer": customer.id, "currency": "eur", "amount": 500}
    )
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.invoice_items.create(
            params={"customer": customer.id, "currency": "usd", "amount": 500}
        )
    assert refused.value.user_message == (
        "You cannot combine currencies on a single customer. This customer has an active "
        "subscription, subscription schedule, discount, quote, or invoice item with currency eur."
    )
    assert refused.value.param == "currency"
    with pytest.raises(stripe.InvalidRequestError, match=r"prices \(usd\) does not match"):
        _schedule(client, customer.id, _price(client, product, "usd").id)
