"""Time passing: test clocks roll periods and produce invoices; meters, coupons, invoices."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests
import stripe

from tests.stripe_emulator.conftest import FROZEN

DAY = 86_400
JAN_1_2027 = 1_798_761_600


def meter_and_price(
    client: stripe.StripeClient, product: stripe.Product
) -> tuple[stripe.billing.Meter, stripe.Price]:
    meter = client.v1.billing.meters.create(
        params={
            "display_name": "Calls",
            "event_name": "calls",
            "default_aggregation": {"formula": "sum"},
        }
    )
    price = client.v1.prices.create(
        params={
            "currency": "usd",
            "product": product.id,
            "unit_amount_decimal": "2.5",
            "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id},
        }
    )
    return meter, price


def test_advancing_a_clock_rolls_periods_and_invoices(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    monthly_price: stripe.Price,
) -> None:
    customer = clocked_customer()
    schedule = client.v1.subscription_schedules.create(
        params={
            "customer": customer.id,
            "start_date": FROZEN,
            "end_behavior": "cancel",
            "phases": [
                {
                    "items": [{"price": monthly_price.id}],
                    "duration": {"interval": "month", "interval_count": 3},
                }
            ],
        }
    )
    clock_id = str(customer.test_clock)
    clock = client.v1.test_helpers.test_clocks.advance(
        clock_id, params={"frozen_time": FROZEN + 45 * DAY}
    )
    assert clock.frozen_time == FROZEN + 45 * DAY and clock.status == "ready"
    sub = client.v1.subscriptions.retrieve(str(schedule.subscription))
    assert sub.items.data[0].current_period_start == 1_769_904_000  # Feb 1
    invoices = client.v1.invoices.list(params={"customer": customer.id})
    assert [i.billing_reason for i in invoices.data] == [
        "subscription_cycle",
        "subscription_create",
    ]
    assert all(i.amount_due == 12_000 and i.status == "paid" for i in invoices.data)

    client.v1.test_helpers.test_clocks.advance(clock_id, params={"frozen_time": FROZEN + 100 * DAY})
    assert client.v1.subscriptions.retrieve(sub.id).status == "canceled"
    assert client.v1.subscription_schedules.retrieve(schedule.id).status == "completed"
    assert len(client.v1.invoices.list(params={"customer": customer.id}).data) == 3


def test_clock_cannot_go_back(
    client: stripe.StripeClient, clocked_customer: Callable[[], stripe.Customer]
) -> None:
    clock_id = str(clocked_customer().test_clock)
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.test_helpers.test_clocks.advance(clock_id, params={"frozen_time": FROZEN - 1})
    assert info.value.param == "frozen_time"


def test_future_schedule_starts_when_the_clock_reaches_it(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    monthly_price: stripe.Price,
) -> None:
    customer = clocked_customer()
    schedule = client.v1.subscription_schedules.create(
        params={
            "customer": customer.id,
            "start_date": FROZEN + 10 * DAY,
            "phases": [{"items": [{"price": monthly_price.id}], "end_date": JAN_1_2027}],
        }
    )
    client.v1.test_helpers.test_clocks.advance(
        str(customer.test_clock), params={"frozen_time": FROZEN + 11 * DAY}
    )
    started = client.v1.subscription_schedules.retrieve(schedule.id)
    assert started.status == "active" and started.subscription is not None


def test_metered_usage_is_invoiced_in_arrears(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    product: stripe.Product,
) -> None:
    customer = clocked_customer()
    _, price = meter_and_price(client, product)
    client.v1.subscription_schedules.create(
        params={
            "customer": customer.id,
            "start_date": FROZEN,
            "phases": [{"items": [{"price": price.id}], "end_date": JAN_1_2027}],
        }
    )
    for value in ("100", "300"):
        client.v1.billing.meter_events.create(
            params={
                "event_name": "calls",
                "payload": {"stripe_customer_id": customer.id, "value": value},
                "timestamp": FROZEN + DAY,
            }
        )
    client.v1.test_helpers.test_clocks.advance(
        str(customer.test_clock), params={"frozen_time": FROZEN + 32 * DAY}
    )
    latest = client.v1.invoices.list(params={"customer": customer.id, "limit": 1}).data[0]
    assert latest.billing_reason == "subscription_cycle"
    assert latest.amount_due == 1000  # 400 calls x 2.5 cents
    assert latest.lines.data[0].quantity == 400


def test_meter_event_for_unknown_event_name_is_refused(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(params={})
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.billing.meter_events.create(
            params={"event_name": "nope", "payload": {"stripe_customer_id": customer.id}}
        )
    assert info.value.param == "event_name"


def test_meters_list_and_update(client: stripe.StripeClient, product: stripe.Product) -> None:
    meter, _ = meter_and_price(client, product)
    client.v1.billing.meters.update(meter.id, params={"display_name": "Renamed"})
    assert client.v1.billing.meters.retrieve(meter.id).display_name == "Renamed"
    client.v1.billing.meters.deactivate(meter.id)
    assert client.v1.billing.meters.list(params={"status": "active"}).data == []


def test_phase_coupon_discounts_subscription_invoices(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    monthly_price: stripe.Price,
) -> None:
    coupon = client.v1.coupons.create(
        params={"id": "SF-10OFF", "percent_off": 10, "duration": "forever"}
    )
    schedule = client.v1.subscription_schedules.create(
        params={
            "customer": clocked_customer().id,
            "phases": [
                {"items": [{"price": monthly_price.id}], "discounts": [{"coupon": coupon.id}]}
            ],
        }
    )
    assert schedule.phases[0].discounts[0].coupon == coupon.id
    sub = client.v1.subscriptions.retrieve(str(schedule.subscription))
    invoice = client.v1.invoices.retrieve(str(sub.latest_invoice))
    assert (invoice.subtotal, invoice.total) == (12_000, 10_800)


def test_coupon_rules(client: stripe.StripeClient) -> None:
    amount = client.v1.coupons.create(
        params={
            "amount_off": 500,
            "currency": "usd",
            "duration": "repeating",
            "duration_in_months": 3,
        }
    )
    assert (amount.amount_off, amount.duration_in_months) == (500, 3)
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.coupons.create(params={"amount_off": 1, "percent_off": 1, "currency": "usd"})
    assert info.value.param == "amount_off"
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.coupons.create(params={"percent_off": 5, "duration": "repeating"})
    assert info.value.param == "duration_in_months"
    assert client.v1.coupons.delete(amount.id).deleted is True


def test_one_time_order_becomes_invoice_items_and_a_finalized_invoice(
    client: stripe.StripeClient, product: stripe.Product
) -> None:
    """Rule O3: invoice items plus a finalized invoice with a hosted URL."""
    customer = client.v1.customers.create(params={"name": "One-off"})
    price = client.v1.prices.create(
        params={"currency": "usd", "product": product.id, "unit_amount": 2_500}
    )
    invoice = client.v1.invoices.create(
        params={
            "customer": customer.id,
            "collection_method": "send_invoice",
            "days_until_due": 15,
            "metadata": {"salesforce_order_id": "801B"},
        }
    )
    assert invoice.status == "draft" and invoice.hosted_invoice_url is None
    item = client.v1.invoice_items.create(
        params={
            "customer": customer.id,
            "invoice": invoice.id,
            "pricing": {"price": price.id},
            "quantity": 2,
        }
    )
    assert item.invoice == invoice.id and item.amount == 5_000
    assert item.pricing is not None and item.pricing.price_details is not None
    assert item.pricing.price_details.price == price.id
    final = client.v1.invoices.finalize_invoice(invoice.id)
    assert final.status == "open" and final.amount_due == 5_000 and final.number
    assert final.hosted_invoice_url is not None
    page = requests.get(final.hosted_invoice_url, timeout=5)
    assert page.status_code == 200 and str(final.number) in page.text
    with pytest.raises(stripe.InvalidRequestError, match="already finalized"):
        client.v1.invoices.finalize_invoice(invoice.id)
    lines = client.v1.invoices.line_items.list(invoice.id)
    assert [line.amount for line in lines.data] == [5_000]
    assert client.v1.invoices.pay(invoice.id, params={"paid_out_of_band": True}).status == "paid"


def test_pending_items_join_an_invoice_only_when_included(
    client: stripe.StripeClient,
) -> None:
    customer = client.v1.customers.create(params={})
    client.v1.invoice_items.create(
        params={"customer": customer.id, "amount": 700, "currency": "usd", "description": "Fee"}
    )
    excluded = client.v1.invoices.create(params={"customer": customer.id})
    assert excluded.lines.data == []
    included = client.v1.invoices.create(
        params={"customer": customer.id, "pending_invoice_items_behavior": "include"}
    )
    assert [line.amount for line in included.lines.data] == [700]
    assert (
        client.v1.invoices.void_invoice(client.v1.invoices.finalize_invoice(included.id).id).status
        == "void"
    )


def test_recurring_price_cannot_be_an_invoice_item(
    client: stripe.StripeClient, monthly_price: stripe.Price
) -> None:
    customer = client.v1.customers.create(params={})
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.invoice_items.create(
            params={"customer": customer.id, "pricing": {"price": monthly_price.id}}
        )
    assert info.value.param == "pricing[price]"
