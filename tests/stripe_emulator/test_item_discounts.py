"""Item-level discounts of schedule phases, as Stripe bills them (rule A5: a line's coupon is
its item's ``discounts``).

Stripe: a phase item's ``discounts[][coupon]`` makes a discount on the subscription item the
phase item becomes; it applies to that item's invoice lines only, before the subscription's
own discounts (the phase's ``discounts``), which take from what every discountable line has
left. Each discount lasts for its coupon's ``duration`` (``once``, ``repeating`` for
``duration_in_months``, ``forever``). Refused like Stripe: a coupon that does not exist, an
amount-off coupon in another currency than the item's price, more than 20 discounts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import stripe

from tests.stripe_emulator.conftest import FROZEN
from tests.stripe_emulator.test_phase_transitions import (
    APR_1,
    DAY,
    FEB_1,
    FEB_15,
    JAN_1_2027,
    MAR_1,
    _advance,
    _invoices,
)


def _recurring(client: stripe.StripeClient, name: str, amount: int) -> stripe.Price:
    product = client.v1.products.create(params={"name": name})
    return client.v1.prices.create(
        params={
            "currency": "usd",
            "product": product.id,
            "unit_amount": amount,
            "recurring": {"interval": "month"},
        }
    )


def _line(invoice: stripe.Invoice, price: stripe.Price) -> stripe.InvoiceLineItem:
    [line] = [
        line
        for line in invoice.lines.data
        if line.pricing is not None
        and line.pricing.price_details is not None
        and line.pricing.price_details.price == price.id
    ]
    return line


def _discounted(line: stripe.InvoiceLineItem) -> int:
    return sum(d.amount for d in line.discount_amounts or [])


def _schedule(
    client: stripe.StripeClient, customer: stripe.Customer, *phases: Any
) -> stripe.SubscriptionSchedule:
    return client.v1.subscription_schedules.create(
        params={
            "customer": customer.id,
            "start_date": FROZEN,
            "end_behavior": "release",
            "phases": list(phases),
        }
    )


def test_an_items_coupon_discounts_its_own_line_before_the_phases_coupon(
    client: stripe.StripeClient, clocked_customer: Callable[[], stripe.Customer]
) -> None:
    seats, support = _recurring(client, "Seats", 12_000), _recurring(client, "Support", 10_000)
    half = client.v1.coupons.create(params={"percent_off": 50, "duration": "forever"})
    tenth = client.v1.coupons.create(params={"percent_off": 10, "duration": "forever"})
    customer = clocked_customer()
    _schedule(
        client,
        customer,
        {
            "items": [
                {"price": seats.id, "quantity": 2, "discounts": [{"coupon": half.id}]},
                {"price": support.id, "quantity": 1},
            ],
            "discounts": [{"coupon": tenth.id}],
            "end_date": JAN_1_2027,
        },
    )
    [first] = _invoices(client, customer)
    seats_line, support_line = _line(first, seats), _line(first, support)
    # Half of the seats' 240.00 first; then a tenth of what both lines have left (220.00),
    # spread by what each has left: 12.00 from the seats, 10.00 from support.
    assert (seats_line.amount, _discounted(seats_line)) == (24_000, 12_000 + 1_200)
    assert (support_line.amount, _discounted(support_line)) == (10_000, 1_000)
    assert first.subtotal == 34_000
    assert first.total == first.amount_due == 34_000 - 12_000 - 2_200
    assert sorted(d.amount for d in first.total_discount_amounts or []) == [2_200, 12_000]
    # The subscription item names the discount its line shows.
    sub = client.v1.subscriptions.list(params={"customer": customer.id}).data[0]
    [seats_item] = [i for i in sub["items"].data if i.price.id == seats.id]
    assert len(seats_item.discounts) == 1
    assert seats_line.discounts[0] == seats_item.discounts[0]


@pytest.mark.parametrize(
    ("terms", "discounted"),
    [
        ({"duration": "forever"}, [True, True, True, True]),
        ({"duration": "once"}, [True, False, False, False]),
        ({"duration": "repeating", "duration_in_months": 2}, [True, True, False, False]),
    ],
)
def test_an_items_coupon_discounts_its_cycle_invoices_for_the_coupons_duration(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    terms: dict[str, Any],
    discounted: list[bool],
) -> None:
    seats, support = _recurring(client, "Seats", 12_000), _recurring(client, "Support", 10_000)
    params: Any = {"amount_off": 3_000, "currency": "usd", **terms}
    coupon = client.v1.coupons.create(params=params)
    customer = clocked_customer()
    _schedule(
        client,
        customer,
        {
            "items": [
                {"price": seats.id, "quantity": 1, "discounts": [{"coupon": coupon.id}]},
                {"price": support.id, "quantity": 1},
            ],
            "end_date": JAN_1_2027,
        },
    )
    _advance(client, customer, APR_1 + DAY)
    invoices = _invoices(client, customer)
    assert [i.created for i in invoices] == [FROZEN, FEB_1, MAR_1, APR_1]
    assert [_discounted(_line(i, seats)) == 3_000 for i in invoices] == discounted
    assert all(_discounted(_line(i, support)) == 0 for i in invoices)
    assert [i.amount_due == 22_000 - 3_000 for i in invoices] == discounted


def test_a_phase_items_coupon_starts_with_its_phase(
    client: stripe.StripeClient, clocked_customer: Callable[[], stripe.Customer]
) -> None:
    """An amendment's phase whose item carries a coupon (a coupon on a quantity change, rule
    A5): the phase's first invoice discounts that item, earlier invoices do not; a once coupon
    is spent by it."""
    seats = _recurring(client, "Seats", 12_000)
    coupon = client.v1.coupons.create(params={"percent_off": 10, "duration": "once"})
    customer = clocked_customer()
    _schedule(
        client,
        customer,
        {"items": [{"price": seats.id, "quantity": 3}], "end_date": FEB_15},
        {
            "items": [{"price": seats.id, "quantity": 5, "discounts": [{"coupon": coupon.id}]}],
            "proration_behavior": "none",
            "end_date": JAN_1_2027,
        },
    )
    _advance(client, customer, APR_1 + DAY)
    invoices = _invoices(client, customer)
    assert [i.created for i in invoices] == [FROZEN, FEB_1, MAR_1, APR_1]
    assert [i.amount_due for i in invoices] == [36_000, 36_000, 60_000 - 6_000, 60_000]


def test_a_phase_start_invoice_discounts_the_new_items_and_its_add_invoice_items(
    client: stripe.StripeClient, clocked_customer: Callable[[], stripe.Customer]
) -> None:
    seats = _recurring(client, "Seats", 12_000)
    setup_product = client.v1.products.create(params={"name": "Setup"})
    setup = client.v1.prices.create(
        params={"currency": "usd", "product": setup_product.id, "unit_amount": 5_000}
    )
    half = client.v1.coupons.create(params={"percent_off": 50, "duration": "forever"})
    fixed = client.v1.coupons.create(
        params={"amount_off": 1_000, "currency": "usd", "duration": "once"}
    )
    customer = clocked_customer()
    _schedule(
        client,
        customer,
        {"items": [{"price": seats.id, "quantity": 3}], "end_date": FEB_15},
        {
            "items": [{"price": seats.id, "quantity": 5, "discounts": [{"coupon": half.id}]}],
            "add_invoice_items": [{"price": setup.id, "discounts": [{"coupon": fixed.id}]}],
            "billing_cycle_anchor": "phase_start",
            "proration_behavior": "none",
            "end_date": JAN_1_2027,
        },
    )
    _advance(client, customer, FEB_15 + DAY)
    update = _invoices(client, customer)[-1]
    assert (update.created, update.billing_reason) == (FEB_15, "subscription_update")
    assert _discounted(_line(update, seats)) == 30_000
    assert _discounted(_line(update, setup)) == 1_000
    assert update.amount_due == 60_000 - 30_000 + 5_000 - 1_000


def _running_item_coupon_billed(
    client: stripe.StripeClient, customer: stripe.Customer, *, resend: str
) -> list[int]:
    """A once coupon added to the running phase's item, the phase sent back a second time
    after the coupon was spent (``resend``: as ``coupon`` or as the ``discount`` it made)."""
    seats = _recurring(client, "Seats", 12_000)
    coupon = client.v1.coupons.create(params={"percent_off": 25, "duration": "once"})
    schedule = _schedule(
        client, customer, {"items": [{"price": seats.id, "quantity": 2}], "end_date": JAN_1_2027}
    )

    def running(discounts: list[Any]) -> Any:
        item = {"price": seats.id, "quantity": 2, "discounts": discounts}
        return {"start_date": FROZEN, "items": [item], "end_date": JAN_1_2027}

    updated = client.v1.subscription_schedules.update(
        schedule.id, params={"phases": [running([{"coupon": coupon.id}])]}
    )
    [entry] = updated.phases[0].items[0].discounts or []
    assert entry.coupon == coupon.id and entry.discount is not None
    sub = client.v1.subscriptions.retrieve(str(updated.subscription))
    assert sub["items"].data[0].discounts == [entry.discount]
    _advance(client, customer, FEB_1 + DAY)
    again = {"coupon": coupon.id} if resend == "coupon" else {"discount": entry.discount}
    client.v1.subscription_schedules.update(schedule.id, params={"phases": [running([again])]})
    _advance(client, customer, MAR_1 + DAY)
    pending = client.v1.invoice_items.list(params={"customer": customer.id, "pending": True})
    assert pending.data == []  # the item's price and quantity did not change: no proration
    return [i.amount_due for i in _invoices(client, customer)]


def test_an_update_adding_a_coupon_to_the_running_phases_item_discounts_from_then_on(
    client: stripe.StripeClient, clocked_customer: Callable[[], stripe.Customer]
) -> None:
    """Sending the running phase back with a coupon on its item discounts the item's next
    invoice; sending it again with the discount that coupon made keeps it (the once coupon
    stays spent)."""
    billed = _running_item_coupon_billed(client, clocked_customer(), resend="discount")
    assert billed == [24_000, 24_000 - 6_000, 24_000]


def test_resending_the_running_items_coupon_makes_a_new_discount(
    client: stripe.StripeClient, clocked_customer: Callable[[], stripe.Customer]
) -> None:
    """Stripe: ``coupon`` is the coupon to create a new discount for. Sent again on the running
    phase, a spent once coupon discounts the next invoice again."""
    billed = _running_item_coupon_billed(client, clocked_customer(), resend="coupon")
    assert billed == [24_000, 24_000 - 6_000, 24_000 - 6_000]


def _refusal(client: stripe.StripeClient, item: Any) -> stripe.InvalidRequestError:
    customer = client.v1.customers.create(params={"name": "Refused"})
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.subscription_schedules.create(
            params={
                "customer": customer.id,
                "start_date": FROZEN + 365 * DAY,
                "phases": [{"items": [item], "end_date": JAN_1_2027 + 365 * DAY}],
            }
        )
    assert client.v1.subscription_schedules.list(params={"customer": customer.id}).data == []
    return info.value


def test_an_items_unknown_coupon_is_refused(client: stripe.StripeClient) -> None:
    seats = _recurring(client, "Seats", 12_000)
    error = _refusal(client, {"price": seats.id, "discounts": [{"coupon": "nope"}]})
    assert (error.http_status, error.code) == (400, "resource_missing")
    assert error.param == "phases[0][items][0][discounts][0][coupon]"


def test_an_items_amount_off_coupon_in_another_currency_is_refused(
    client: stripe.StripeClient,
) -> None:
    seats = _recurring(client, "Seats", 12_000)
    euros = client.v1.coupons.create(
        params={"amount_off": 500, "currency": "eur", "duration": "forever"}
    )
    error = _refusal(client, {"price": seats.id, "discounts": [{"coupon": euros.id}]})
    assert error.http_status == 400
    assert error.param == "phases[0][items][0][discounts][0][coupon]"
    assert "currency" in str(error.user_message)


def test_more_than_20_discounts_on_an_item_are_refused(client: stripe.StripeClient) -> None:
    seats = _recurring(client, "Seats", 12_000)
    coupons = [
        client.v1.coupons.create(params={"percent_off": 1, "duration": "once"}).id
        for _ in range(21)
    ]
    error = _refusal(client, {"price": seats.id, "discounts": [{"coupon": c} for c in coupons]})
    assert (error.http_status, error.param) == (400, "phases[0][items][0][discounts]")
    # Twenty are accepted.
    customer = client.v1.customers.create(params={"name": "Twenty"})
    schedule = client.v1.subscription_schedules.create(
        params={
            "customer": customer.id,
            "start_date": FROZEN + 365 * DAY,
            "phases": [
                {
                    "items": [
                        {"price": seats.id, "discounts": [{"coupon": c} for c in coupons[:20]]}
                    ],
                    "end_date": JAN_1_2027 + 365 * DAY,
                }
            ],
        }
    )
    assert len(schedule.phases[0]["items"][0].discounts) == 20


def test_a_phases_amount_off_coupon_in_another_currency_is_refused(
    client: stripe.StripeClient,
) -> None:
    """The phase's own discounts are checked the same way (a hand-made coupon an order names in
    Stripe_ID__c, K2, may be in any currency)."""
    seats = _recurring(client, "Seats", 12_000)
    euros = client.v1.coupons.create(
        params={"amount_off": 500, "currency": "eur", "duration": "forever"}
    )
    customer = client.v1.customers.create(params={"name": "Refused"})
    phase: Any = {
        "items": [{"price": seats.id}],
        "discounts": [{"coupon": euros.id}],
        "end_date": JAN_1_2027 + 365 * DAY,
    }
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.subscription_schedules.create(
            params={"customer": customer.id, "start_date": FROZEN + 365 * DAY, "phases": [phase]}
        )
    assert (info.value.http_status, info.value.param) == (400, "phases[0][discounts][0][coupon]")
