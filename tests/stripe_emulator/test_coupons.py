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


def _one_time_price(client: stripe.StripeClient, amount: int) -> stripe.Price:
    product = client.v1.products.create({"name": f"Fee {amount}"})
    return client.v1.prices.create(
        {"currency": "usd", "product": product.id, "unit_amount": amount}
    )


def test_an_invoice_items_coupon_takes_from_its_line_before_the_invoices_coupon(
    client: stripe.StripeClient,
) -> None:
    """A5 on an invoice (O3): line item discounts apply first, then the invoice's discounts to
    what every discountable line has left; each line shows what each discount took."""
    customer = client.v1.customers.create({})
    setup, training = _one_time_price(client, 50_000), _one_time_price(client, 25_000)
    partner = client.v1.coupons.create({"percent_off": 10, "duration": "forever"})
    launch = client.v1.coupons.create({"amount_off": 5_000, "currency": "usd", "duration": "once"})
    invoice = client.v1.invoices.create(
        {"customer": customer.id, "currency": "usd", "discounts": [{"coupon": partner.id}]}
    )
    first = client.v1.invoice_items.create(
        {
            "customer": customer.id,
            "invoice": invoice.id,
            "pricing": {"price": setup.id},
            "discounts": [{"coupon": launch.id}],
        }
    )
    client.v1.invoice_items.create(
        {"customer": customer.id, "invoice": invoice.id, "pricing": {"price": training.id}}
    )
    done = client.v1.invoices.finalize_invoice(invoice.id)

    # 500 - 50 (line) = 450; + 250 = 700; 10% of 700 = 70 off: 630 due.
    assert (done.subtotal, done.total, done.amount_due) == (75_000, 63_000, 63_000)
    assert len(done.discounts) == 1 and len(first.discounts) == 1
    invoice_discount, line_discount = done.discounts[0], first.discounts[0]
    assert sorted((d.amount, d.discount) for d in done.total_discount_amounts) == sorted(
        [(5_000, line_discount), (7_000, invoice_discount)]
    )
    lines = {line.amount: line for line in done.lines.data}
    assert lines[50_000].discounts == [line_discount]
    assert [(d.amount, d.discount) for d in lines[50_000].discount_amounts] == [
        (5_000, line_discount),
        (4_500, invoice_discount),
    ]
    assert [(d.amount, d.discount) for d in lines[25_000].discount_amounts] == [
        (2_500, invoice_discount)
    ]


def test_a_repeating_coupon_discounts_an_invoice_once(client: stripe.StripeClient) -> None:
    """A coupon's duration governs subscriptions; a one-off invoice is discounted once."""
    customer = client.v1.customers.create({})
    price = _one_time_price(client, 10_000)
    coupon = client.v1.coupons.create(
        {"percent_off": 25, "duration": "repeating", "duration_in_months": 3}
    )
    invoice = client.v1.invoices.create(
        {"customer": customer.id, "discounts": [{"coupon": coupon.id}]}
    )
    client.v1.invoice_items.create(
        {"customer": customer.id, "invoice": invoice.id, "pricing": {"price": price.id}}
    )
    assert client.v1.invoices.finalize_invoice(invoice.id).amount_due == 7_500


def test_invoice_item_discounts_are_refused_as_stripe_refuses_them(
    client: stripe.StripeClient,
) -> None:
    customer = client.v1.customers.create({})
    price = _one_time_price(client, 10_000)
    euros = client.v1.coupons.create({"amount_off": 500, "currency": "eur", "duration": "once"})
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.invoice_items.create(
            {
                "customer": customer.id,
                "pricing": {"price": price.id},
                "discounts": [{"coupon": euros.id}],
            }
        )
    assert (info.value.http_status, info.value.param) == (400, "discounts[0][coupon]")
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.invoice_items.create(
            {
                "customer": customer.id,
                "pricing": {"price": price.id},
                "discounts": [{"coupon": "no_such_coupon"}],
            }
        )
    assert (info.value.http_status, info.value.param) == (400, "discounts[0][coupon]")
    assert info.value.code == "resource_missing"
    dollars = client.v1.coupons.create({"percent_off": 5, "duration": "once"})
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.invoice_items.create(
            {
                "customer": customer.id,
                "pricing": {"price": price.id},
                "discountable": False,
                "discounts": [{"coupon": dollars.id}],
            }
        )
    assert (info.value.http_status, info.value.param) == (400, "discounts")
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.invoices.create(
            {"customer": customer.id, "currency": "usd", "discounts": [{"coupon": euros.id}]}
        )
    assert (info.value.http_status, info.value.param) == (400, "discounts[0][coupon]")
    # Nothing was made by the refused requests.
    assert client.v1.invoice_items.list({"customer": customer.id}).data == []
    assert client.v1.invoices.list({"customer": customer.id}).data == []
