"""Inline ``price_data`` on a schedule's phase items and add_invoice_items, as Stripe takes it:
a price made for that one use (inactive, no metadata, retrievable by the id the schedule names),
and only what a per-unit licensed price says (no tiers, meters, metadata or lookup key)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import stripe

from tests.stripe_emulator.conftest import FROZEN

MONTHLY: dict[str, Any] = {
    "currency": "usd",
    "product": "prod_sf_01t1",
    "unit_amount_decimal": "1234.5",
    "recurring": {"interval": "month", "interval_count": 3},
}


def _create(
    client: stripe.StripeClient,
    customer: stripe.Customer,
    items: list[dict[str, Any]],
    add_invoice_items: list[dict[str, Any]] | None = None,
) -> stripe.SubscriptionSchedule:
    term = {"interval": "month", "interval_count": 12}
    phase: dict[str, Any] = {"items": items, "duration": term}
    if add_invoice_items is not None:
        phase["add_invoice_items"] = add_invoice_items
    return client.v1.subscription_schedules.create(
        params={"customer": customer.id, "start_date": FROZEN, "phases": [phase]}
    )


def test_price_data_makes_an_inactive_price_named_in_the_answer(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    product: stripe.Product,
) -> None:
    one_time = {"currency": "usd", "product": product.id, "unit_amount": 75_000}
    schedule = _create(
        client,
        clocked_customer(),
        [{"price_data": MONTHLY, "quantity": 2, "metadata": {"line": "1"}}],
        [{"price_data": one_time, "quantity": 1}],
    )
    [item] = schedule.phases[0].items
    assert item.quantity == 2 and item.metadata.to_dict() == {"line": "1"}
    price = client.v1.prices.retrieve(str(item.price))
    assert price.active is False  # made for this one use, like an archived line price (P6)
    assert str(price.unit_amount_decimal) == "1234.5" and price.currency == "usd"
    assert price.product == product.id and price.type == "recurring"
    assert price.recurring is not None
    assert (price.recurring.interval, price.recurring.interval_count) == ("month", 3)
    assert price.recurring.usage_type == "licensed"
    assert price.metadata.to_dict() == {} and price.lookup_key is None
    [added] = schedule.phases[0].add_invoice_items
    setup = client.v1.prices.retrieve(str(added.price))
    assert setup.type == "one_time" and setup.unit_amount == 75_000 and setup.active is False
    # Each use makes its own price: the same data twice is two prices.
    again = _create(client, clocked_customer(), [{"price_data": MONTHLY}])
    assert again.phases[0].items[0].price != item.price


def test_an_update_keeps_the_inline_price_its_schedule_holds(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    product: stripe.Product,
) -> None:
    """The generated price is inactive, so only the schedule using it may name it again."""
    customer = clocked_customer()
    schedule = _create(client, customer, [{"price_data": MONTHLY, "quantity": 1}])
    inline = str(schedule.phases[0].items[0].price)
    end = schedule.phases[0].end_date
    updated = client.v1.subscription_schedules.update(
        schedule.id,
        params={
            "phases": [
                {"start_date": FROZEN, "end_date": end, "items": [{"price": inline, "quantity": 4}]}
            ]
        },
    )
    assert updated.phases[0].items[0].price == inline and updated.phases[0].items[0].quantity == 4
    with pytest.raises(stripe.InvalidRequestError, match="inactive") as refused:
        _create(client, clocked_customer(), [{"price": inline}])
    assert refused.value.error is not None
    assert refused.value.error.param == "phases[0][items][0][price]"


@pytest.mark.parametrize(
    ("data", "param", "message"),
    [
        (
            {**MONTHLY, "tiers": [{"up_to": "inf", "unit_amount": 1}]},
            "phases[0][items][0][price_data][tiers]",
            "Received unknown parameter",
        ),
        (
            {**MONTHLY, "recurring": {"interval": "month", "usage_type": "metered"}},
            "phases[0][items][0][price_data][recurring][usage_type]",
            "Received unknown parameter",
        ),
        (
            {**MONTHLY, "recurring": {"interval": "month", "meter": "mtr_1"}},
            "phases[0][items][0][price_data][recurring][meter]",
            "Received unknown parameter",
        ),
        (
            {**MONTHLY, "metadata": {"salesforce_order_item_id": "802A"}},
            "phases[0][items][0][price_data][metadata]",
            "Received unknown parameter",
        ),
        (
            {**MONTHLY, "lookup_key": "line"},
            "phases[0][items][0][price_data][lookup_key]",
            "Received unknown parameter",
        ),
        (
            {k: v for k, v in MONTHLY.items() if k != "product"},
            "phases[0][items][0][price_data][product]",
            "Missing required param",
        ),
        (
            {**MONTHLY, "product": "prod_missing"},
            "phases[0][items][0][price_data][product]",
            "No such product",
        ),
        (
            {k: v for k, v in MONTHLY.items() if k != "recurring"},
            "phases[0][items][0][price_data][recurring]",
            "Missing required param",
        ),
    ],
)
def test_price_data_refuses_what_a_per_unit_licensed_price_cannot_say(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    product: stripe.Product,
    data: dict[str, Any],
    param: str,
    message: str,
) -> None:
    before = len(client.v1.prices.list(params={"limit": 100}).data)
    with pytest.raises(stripe.InvalidRequestError, match=message) as refused:
        _create(client, clocked_customer(), [{"price_data": data}])
    assert refused.value.http_status == 400
    assert refused.value.error is not None and refused.value.error.param == param
    assert len(client.v1.prices.list(params={"limit": 100}).data) == before


def test_price_and_price_data_exclude_each_other_and_one_time_takes_no_recurring(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    monthly_price: stripe.Price,
    product: stripe.Product,
) -> None:
    customer = clocked_customer()
    with pytest.raises(stripe.InvalidRequestError) as both:
        _create(client, customer, [{"price": monthly_price.id, "price_data": MONTHLY}])
    assert both.value.error is not None
    assert both.value.error.param in (
        "phases[0][items][0][price]",
        "phases[0][items][0][price_data]",
    )
    with pytest.raises(stripe.InvalidRequestError, match="unknown parameter") as recurring:
        _create(
            client,
            customer,
            [{"price": monthly_price.id}],
            [{"price_data": MONTHLY}],
        )
    assert recurring.value.error is not None
    assert recurring.value.error.param == "phases[0][add_invoice_items][0][price_data][recurring]"


def test_a_refused_schedule_create_or_update_makes_no_price(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    product: stripe.Product,
    emulator: Any,
) -> None:
    """Stripe checks the whole request before it makes anything: price_data on a schedule
    request it refuses (here a later phase, or the update's history) leaves no price behind."""
    customer = clocked_customer()
    one_time = {"currency": "usd", "product": product.id, "unit_amount": 500}
    good = {"items": [{"price_data": MONTHLY}], "add_invoice_items": [{"price_data": one_time}]}
    refused_create = [
        {**good, "end_date": FROZEN + 86400 * 30},
        {"items": [{"price_data": MONTHLY}], "end_date": FROZEN + 86400},  # ends before it starts
    ]
    with pytest.raises(stripe.InvalidRequestError) as create_error:
        client.v1.subscription_schedules.create(
            params={"customer": customer.id, "start_date": FROZEN, "phases": refused_create}
        )
    assert create_error.value.http_status == 400
    assert emulator.objects("price") == []
    assert emulator.objects("subscription_schedule") == []

    schedule = _create(client, customer, [{"price_data": MONTHLY, "quantity": 1}])
    made = {p["id"] for p in emulator.objects("price")}
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscription_schedules.update(
            schedule.id,
            params={
                "phases": [
                    {
                        **good,
                        "start_date": FROZEN + 3600,  # the running phase keeps its start
                        "end_date": FROZEN + 86400 * 30,
                    }
                ]
            },
        )
    assert {p["id"] for p in emulator.objects("price")} == made
    held = client.v1.subscription_schedules.retrieve(schedule.id)
    assert held.phases[0].items[0].price == schedule.phases[0].items[0].price
