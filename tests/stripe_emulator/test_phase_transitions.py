"""A schedule's phase that starts inside a billing period: reached by a test clock, or now.

Stripe's rules (API reference, subscription schedule phases; Billing docs, "billing cycle" and
"prorations"): a phase's ``billing_cycle_anchor`` is ``automatic`` unless set, which keeps the
subscription's anchor unless the phase's prices bill at another interval (then the anchor moves
to the phase's start, as changing a subscription to a price of another interval does);
``phase_start`` moves it to the phase's start. A kept anchor means no invoice at the phase
start: the next invoice comes on the next cycle date, for the new phase's items. The phase's
``proration_behavior`` says what the change in the middle of the period bills: nothing
(``none``, what cpqsync sends, rule A1), proration items on the next invoice
(``create_prorations``, the default) or on an invoice at once (``always_invoice``). The phase's
``add_invoice_items`` are appended to the phase's first invoice. A schedule update that starts
a phase now, or rewrites the running one, follows the same rules at once, prorated per the
update's own ``proration_behavior``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import stripe

from tests.stripe_emulator.conftest import FROZEN

DAY = 86_400
FEB_1 = 1_769_904_000  # 2026-02-01
FEB_15 = 1_771_113_600  # half of February's 28 days left
MAR_1 = 1_772_323_200
MAR_15 = 1_773_532_800
APR_1 = 1_775_001_600
MAY_1 = 1_777_593_600
JUN_15 = 1_781_481_600
JAN_1_2027 = 1_798_761_600
FEB_15_2027 = 1_802_649_600


def _price(
    client: stripe.StripeClient, product: stripe.Product, amount: int, interval: str
) -> stripe.Price:
    return client.v1.prices.create(
        params={
            "currency": "usd",
            "product": product.id,
            "unit_amount": amount,
            "recurring": {"interval": interval},
        }
    )


def _advance(client: stripe.StripeClient, customer: stripe.Customer, to: int) -> None:
    """Move the customer's test clock to ``to``."""
    clock = customer.test_clock
    assert clock is not None
    clock_id = clock if isinstance(clock, str) else clock.id
    client.v1.test_helpers.test_clocks.advance(clock_id, params={"frozen_time": to})


def _amended(
    client: stripe.StripeClient,
    customer: stripe.Customer,
    first: stripe.Price,
    second: stripe.Price,
    cut: int,
    end: int,
    **phase: Any,
) -> stripe.SubscriptionSchedule:
    """3 seats from Jan 1, 5 seats of ``second`` from ``cut`` (the amendment's phase)."""
    return client.v1.subscription_schedules.create(
        params={
            "customer": customer.id,
            "start_date": FROZEN,
            "end_behavior": "release",
            "phases": [
                {"items": [{"price": first.id, "quantity": 3}], "end_date": cut},
                {"items": [{"price": second.id, "quantity": 5}], "end_date": end, **phase},
            ],
        }
    )


def _seats_3_then_5(
    client: stripe.StripeClient,
    customer: stripe.Customer,
    product: stripe.Product,
    cut: int,
    **phase: Any,
) -> stripe.Customer:
    """``customer`` on a monthly 120.00 price, amended from 3 to 5 seats at ``cut``."""
    price = _price(client, product, 12_000, "month")
    _amended(client, customer, price, price, cut, JAN_1_2027, **phase)
    return customer


def _invoices(client: stripe.StripeClient, customer: stripe.Customer) -> list[stripe.Invoice]:
    """The customer's invoices, oldest first."""
    listed = client.v1.invoices.list(params={"customer": customer.id, "limit": 100}).data
    return sorted(listed, key=lambda i: (i.created, i.period_end))


def _lines(invoice: stripe.Invoice) -> list[tuple[int, bool]]:
    """(amount, proration) of each line, sorted."""
    found = []
    for line in invoice.lines.data:
        parent = line.parent
        assert parent is not None
        details = parent.subscription_item_details or parent.invoice_item_details
        assert details is not None
        found.append((line.amount, bool(details.proration)))
    return sorted(found)


@pytest.mark.parametrize(
    ("interval", "cut", "cycle_date", "amendment_end"),
    [
        ("month", FEB_15, MAR_1, JAN_1_2027),
        ("year", JUN_15, JAN_1_2027, FEB_15_2027),
    ],
)
def test_a_phase_starting_mid_period_keeps_the_cycle_and_bills_at_the_next_cycle_date(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    product: stripe.Product,
    interval: str,
    cut: int,
    cycle_date: int,
    amendment_end: int,
) -> None:
    """Rule A1's amendment: same interval, ``proration_behavior: none``, the partial period
    billed by cpqsync's own add_invoice_item. Nothing is invoiced when the phase starts; the
    next invoice comes on the original cycle date with the new quantities and that item."""
    customer = clocked_customer()
    price = _price(client, product, 12_000, interval)
    schedule = _amended(
        client,
        customer,
        price,
        price,
        cut,
        amendment_end,
        proration_behavior="none",
        add_invoice_items=[
            {
                "price_data": {"currency": "usd", "product": product.id, "unit_amount": 777},
                "quantity": 2,
            }
        ],
    )
    _advance(client, customer, cut - 1)
    sub = client.v1.subscriptions.retrieve(str(schedule.subscription))
    first_period = (sub.items.data[0].current_period_start, sub.items.data[0].current_period_end)
    billed_before_cut = len(_invoices(client, customer))

    _advance(client, customer, cut + DAY)
    assert len(_invoices(client, customer)) == billed_before_cut  # nothing at the phase start
    item_before = sub.items.data[0].id
    sub = client.v1.subscriptions.retrieve(sub.id)
    assert sub.billing_cycle_anchor == FROZEN
    item = sub.items.data[0]
    assert item.quantity == 5 and item.id == item_before  # the same item, updated in place
    assert item.current_period_end == cycle_date
    assert (item.current_period_start, item.current_period_end) == first_period

    _advance(client, customer, cycle_date + DAY)
    invoices = _invoices(client, customer)
    assert len(invoices) == billed_before_cut + 1
    cycle = invoices[-1]
    assert cycle.billing_reason == "subscription_cycle"
    assert cycle.created == cycle_date
    assert _lines(cycle) == [(2 * 777, False), (5 * 12_000, False)]


def test_phase_start_anchor_starts_a_new_cycle_at_the_phase_start(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    product: stripe.Product,
) -> None:
    customer = clocked_customer()
    price = _price(client, product, 12_000, "month")
    schedule = _amended(
        client,
        customer,
        price,
        price,
        FEB_15,
        JAN_1_2027,
        proration_behavior="none",
        billing_cycle_anchor="phase_start",
    )
    _advance(client, customer, FEB_15 + DAY)
    sub = client.v1.subscriptions.retrieve(str(schedule.subscription))
    assert sub.billing_cycle_anchor == FEB_15
    item = sub.items.data[0]
    assert (item.current_period_start, item.current_period_end) == (FEB_15, MAR_15)
    update = _invoices(client, customer)[-1]
    assert update.created == FEB_15 and update.billing_reason == "subscription_update"
    # A whole new period for 5 seats; ``none``: no credit for the 3 seats' unused half.
    assert _lines(update) == [(5 * 12_000, False)]

    _advance(client, customer, MAR_15 + DAY)
    assert [i.created for i in _invoices(client, customer)] == [FROZEN, FEB_1, FEB_15, MAR_15]


def test_an_interval_change_moves_the_automatic_anchor_to_the_phase_start(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    product: stripe.Product,
) -> None:
    customer = clocked_customer()
    monthly = _price(client, product, 12_000, "month")
    yearly = _price(client, product, 100_000, "year")
    schedule = _amended(
        client, customer, monthly, yearly, FEB_15, FEB_15_2027, proration_behavior="none"
    )
    assert schedule.phases[1].billing_cycle_anchor is None  # automatic, as Stripe shows it
    _advance(client, customer, FEB_15 + DAY)
    sub = client.v1.subscriptions.retrieve(str(schedule.subscription))
    assert sub.billing_cycle_anchor == FEB_15
    item = sub.items.data[0]
    assert (item.current_period_start, item.current_period_end) == (FEB_15, FEB_15_2027)
    update = _invoices(client, customer)[-1]
    assert update.created == FEB_15 and update.billing_reason == "subscription_update"
    assert _lines(update) == [(5 * 100_000, False)]


def test_create_prorations_puts_the_change_on_the_next_invoice(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    product: stripe.Product,
) -> None:
    """3 -> 5 seats halfway through February: the 3 seats' unused half is credited and the
    5 seats' remaining half charged, as pending proration items for the March 1 invoice."""
    # No proration_behavior sent: Stripe's default, create_prorations.
    customer = _seats_3_then_5(client, clocked_customer(), product, FEB_15)
    _advance(client, customer, FEB_15 + DAY)
    assert [i.created for i in _invoices(client, customer)] == [FROZEN, FEB_1]
    pending = client.v1.invoice_items.list(params={"customer": customer.id, "pending": True})
    assert sorted((i.amount, i.proration) for i in pending.data) == [
        (-18_000, True),
        (30_000, True),
    ]
    assert all(i.discountable is False for i in pending.data)
    assert {(i.period.start, i.period.end) for i in pending.data} == {(FEB_15, MAR_1)}

    _advance(client, customer, MAR_1 + DAY)
    cycle = _invoices(client, customer)[-1]
    assert cycle.created == MAR_1
    assert _lines(cycle) == [(-18_000, True), (30_000, True), (5 * 12_000, False)]
    assert cycle.amount_due == 72_000


def test_always_invoice_bills_the_prorations_at_the_phase_start(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    product: stripe.Product,
) -> None:
    customer = _seats_3_then_5(
        client, clocked_customer(), product, FEB_15, proration_behavior="always_invoice"
    )
    _advance(client, customer, FEB_15 + DAY)
    update = _invoices(client, customer)[-1]
    assert update.created == FEB_15 and update.billing_reason == "subscription_update"
    assert _lines(update) == [(-18_000, True), (30_000, True)]
    assert update.amount_due == 12_000
    _advance(client, customer, MAR_1 + DAY)
    assert _lines(_invoices(client, customer)[-1]) == [(5 * 12_000, False)]


def test_a_new_anchor_with_create_prorations_credits_the_unused_old_period(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    product: stripe.Product,
) -> None:
    customer = _seats_3_then_5(
        client, clocked_customer(), product, FEB_15, billing_cycle_anchor="phase_start"
    )
    _advance(client, customer, FEB_15 + DAY)
    update = _invoices(client, customer)[-1]
    assert update.created == FEB_15
    assert _lines(update) == [(-18_000, True), (5 * 12_000, False)]
    assert update.amount_due == 42_000


def test_a_phase_starting_on_a_cycle_date_bills_its_items_on_that_cycle(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    product: stripe.Product,
) -> None:
    """No change inside a period, so nothing to prorate whatever the behaviour."""
    customer = _seats_3_then_5(client, clocked_customer(), product, FEB_1)
    _advance(client, customer, FEB_1 + DAY)
    cycle = _invoices(client, customer)[-1]
    assert cycle.created == FEB_1 and cycle.billing_reason == "subscription_cycle"
    assert _lines(cycle) == [(5 * 12_000, False)]
    pending = client.v1.invoice_items.list(params={"customer": customer.id, "pending": True})
    assert pending.data == []


def test_a_coupon_does_not_discount_prorations(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    product: stripe.Product,
) -> None:
    coupon = client.v1.coupons.create(params={"percent_off": 50, "duration": "forever"})
    customer = _seats_3_then_5(
        client,
        clocked_customer(),
        product,
        FEB_15,
        billing_cycle_anchor="phase_start",
        discounts=[{"coupon": coupon.id}],
    )
    _advance(client, customer, FEB_15 + DAY)
    update = _invoices(client, customer)[-1]
    assert _lines(update) == [(-18_000, True), (5 * 12_000, False)]
    assert update.subtotal == 42_000
    # Half off the 5 seats' new period only; the 3 seats' credit is given in full.
    assert update.amount_due == 30_000 - 18_000


@pytest.mark.parametrize(
    ("terms", "discounted"),
    [
        ({"duration": "forever"}, [True, True, True]),
        ({"duration": "once"}, [True, False, False]),
        # two months from the phase's start (Feb 15): the March and April invoices
        ({"duration": "repeating", "duration_in_months": 2}, [True, True, False]),
    ],
)
def test_a_phases_coupon_discounts_its_cycle_invoices_for_the_coupons_duration(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    product: stripe.Product,
    terms: dict[str, Any],
    discounted: list[bool],
) -> None:
    """A phase's coupon makes a discount when the phase starts (rule A5: an amendment's
    coupon from its phase on); it applies to the subscription's invoices from then on, for
    as long as the coupon's duration lasts, the cycle invoices included."""
    coupon = client.v1.coupons.create(params={"percent_off": 50, **terms})
    customer = _seats_3_then_5(
        client,
        clocked_customer(),
        product,
        FEB_15,
        proration_behavior="none",
        discounts=[{"coupon": coupon.id}],
    )
    _advance(client, customer, MAY_1 + DAY)
    invoices = _invoices(client, customer)
    assert [i.created for i in invoices] == [FROZEN, FEB_1, MAR_1, APR_1, MAY_1]
    assert invoices[1].amount_due == 3 * 12_000  # before the phase: no coupon
    assert [i.amount_due == 30_000 for i in invoices[2:]] == discounted
    assert all(i.subtotal == 60_000 for i in invoices[2:])


# --- a schedule update that changes the running phase now ---

DEC_22 = FROZEN - 10 * DAY  # the running schedule's start; its period ends Jan 22 (31 days)
JAN_22 = FROZEN + 21 * DAY


def _update_now(
    client: stripe.StripeClient,
    customer: stripe.Customer,
    price: stripe.Price,
    *,
    next_price: stripe.Price | None = None,
    **update: Any,
) -> None:
    """A schedule of 5 seats from Dec 22, amended now (Jan 1) to 7 seats of ``next_price``."""
    schedule = client.v1.subscription_schedules.create(
        params={
            "customer": customer.id,
            "start_date": DEC_22,
            "end_behavior": "release",
            "phases": [{"items": [{"price": price.id, "quantity": 5}], "end_date": JAN_1_2027}],
        }
    )
    client.v1.subscription_schedules.update(
        schedule.id,
        params={
            **update,
            "phases": [
                {
                    "start_date": DEC_22,
                    "items": [{"price": price.id, "quantity": 5}],
                    "end_date": "now",
                },
                {
                    "items": [{"price": (next_price or price).id, "quantity": 7}],
                    "end_date": FEB_15_2027,
                },
            ],
        },
    )


def test_an_update_starting_a_phase_now_prorates_by_default(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    monthly_price: stripe.Price,
) -> None:
    """Without proration_behavior an update prorates (Stripe's default): 21 of the period's
    31 days are left, credited for 5 seats and charged for 7, on the Jan 22 invoice."""
    customer = clocked_customer()
    _update_now(client, customer, monthly_price)
    pending = client.v1.invoice_items.list(params={"customer": customer.id, "pending": True})
    assert sorted(i.amount for i in pending.data) == [-40_645, 56_903]  # 60,000 / 84,000 x 21/31
    _advance(client, customer, JAN_22 + DAY)
    cycle = _invoices(client, customer)[-1]
    assert cycle.created == JAN_22
    assert _lines(cycle) == [(-40_645, True), (56_903, True), (7 * 12_000, False)]


def test_an_update_with_always_invoice_bills_its_prorations_at_once(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    monthly_price: stripe.Price,
) -> None:
    customer = clocked_customer()
    _update_now(client, customer, monthly_price, proration_behavior="always_invoice")
    update = _invoices(client, customer)[-1]
    assert update.created == FROZEN and update.billing_reason == "subscription_update"
    assert _lines(update) == [(-40_645, True), (56_903, True)]


def test_an_update_starting_a_phase_of_another_interval_now_starts_a_new_cycle(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    monthly_price: stripe.Price,
    product: stripe.Product,
) -> None:
    customer = clocked_customer()
    yearly = _price(client, product, 100_000, "year")
    _update_now(client, customer, monthly_price, next_price=yearly, proration_behavior="none")
    sub = client.v1.subscriptions.list(params={"customer": customer.id}).data[0]
    assert sub.billing_cycle_anchor == FROZEN
    [item] = sub.items.data  # the yearly price's own item; the monthly one is gone
    assert item.price.id == yearly.id
    assert (item.current_period_start, item.current_period_end) == (FROZEN, JAN_1_2027)
    update = _invoices(client, customer)[-1]
    assert update.created == FROZEN and update.billing_reason == "subscription_update"
    assert _lines(update) == [(7 * 100_000, False)]


def _rewrite_running(
    client: stripe.StripeClient, customer: stripe.Customer, price: stripe.Price, behavior: str
) -> None:
    """A schedule of 5 seats from Dec 22 whose running phase an update (now, Jan 1) rewrites
    to 7 seats, with ``behavior`` as the update's proration_behavior."""
    schedule = client.v1.subscription_schedules.create(
        params={
            "customer": customer.id,
            "start_date": DEC_22,
            "phases": [{"items": [{"price": price.id, "quantity": 5}], "end_date": JAN_1_2027}],
        }
    )
    running: Any = {
        "start_date": DEC_22,
        "items": [{"price": price.id, "quantity": 7}],
        "end_date": JAN_1_2027,
    }
    client.v1.subscription_schedules.update(
        schedule.id, params={"proration_behavior": behavior, "phases": [running]}
    )


def test_an_update_rewriting_the_running_phase_prorates_the_change(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    monthly_price: stripe.Price,
) -> None:
    customer = clocked_customer()
    _rewrite_running(client, customer, monthly_price, "create_prorations")
    pending = client.v1.invoice_items.list(params={"customer": customer.id, "pending": True})
    assert sorted((i.amount, i.proration) for i in pending.data) == [
        (-40_645, True),
        (56_903, True),
    ]


def test_an_update_rewriting_the_running_phase_with_none_bills_no_prorations(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    monthly_price: stripe.Price,
) -> None:
    """``proration_behavior: none`` on the update (what cpqsync sends when it corrects an order,
    and for amendments): the subscription takes the new quantity at once, nothing is billed
    for the rest of the period, and the next cycle invoice bills the new quantity."""
    customer = clocked_customer()
    _rewrite_running(client, customer, monthly_price, "none")
    sub = client.v1.subscriptions.list(params={"customer": customer.id}).data[0]
    assert [i.quantity for i in sub["items"].data] == [7]
    assert client.v1.invoice_items.list(params={"customer": customer.id}).data == []
    _advance(client, customer, JAN_22 + DAY)
    cycle = _invoices(client, customer)[-1]
    assert cycle.created == JAN_22
    assert _lines(cycle) == [(7 * 12_000, False)]
