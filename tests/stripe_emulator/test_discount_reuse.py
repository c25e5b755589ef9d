"""Discounts a schedule phase makes and reuses, as Stripe keeps them (rule A5).

Stripe: a phase's ``discounts[][coupon]`` is "the coupon to create a new discount for",
``discounts[][discount]`` "an existing discount on the object (or one of its ancestors) to
reuse". The discount a phase's coupon made is shown in the phase entry's ``discount`` and in
the subscription's ``discounts``; a schedule update that sends the running phase with the
coupon again makes a new one (a spent ``once`` coupon discounts again, a ``repeating`` one
starts its months over), one that sends the discount keeps it. A discount the subscription
does not hold is refused as Stripe refuses an unknown id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import stripe

from tests.stripe_emulator.conftest import FROZEN
from tests.stripe_emulator.test_item_discounts import _recurring, _schedule
from tests.stripe_emulator.test_phase_transitions import (
    APR_1,
    DAY,
    FEB_1,
    JAN_1_2027,
    MAR_1,
    _advance,
    _invoices,
)


def _created(phase: Any) -> Any:
    """``phase`` as a create sends it (the schedule's start_date gives the first phase's)."""
    return {k: v for k, v in phase.items() if k != "start_date"}


def _phase(price: stripe.Price, *discounts: Any) -> Any:
    return {
        "start_date": FROZEN,
        "items": [{"price": price.id, "quantity": 1}],
        "discounts": list(discounts),
        "end_date": JAN_1_2027,
    }


def _once_coupon_schedule(
    client: stripe.StripeClient, customer: stripe.Customer
) -> tuple[stripe.Price, stripe.Coupon, stripe.SubscriptionSchedule]:
    seats = _recurring(client, "Seats", 10_000)
    coupon = client.v1.coupons.create(params={"percent_off": 50, "duration": "once"})
    schedule = _schedule(client, customer, _created(_phase(seats, {"coupon": coupon.id})))
    return seats, coupon, schedule


def test_the_running_phases_coupon_shows_the_discount_it_made(
    client: stripe.StripeClient, clocked_customer: Callable[[], stripe.Customer]
) -> None:
    customer = clocked_customer()
    _, coupon, schedule = _once_coupon_schedule(client, customer)
    [entry] = schedule.phases[0].discounts
    assert entry.coupon == coupon.id
    assert entry.discount is not None and entry.discount.startswith("di_")
    sub = client.v1.subscriptions.retrieve(str(schedule.subscription))
    assert [d if isinstance(d, str) else d.id for d in sub.discounts] == [entry.discount]
    expanded = client.v1.subscription_schedules.retrieve(
        schedule.id, params={"expand": ["phases.discounts.discount"]}
    )
    discount = expanded.phases[0].discounts[0].discount
    assert isinstance(discount, stripe.Discount)
    assert discount.source.coupon == coupon.id
    assert discount.subscription == sub.id


@pytest.mark.parametrize(
    ("resend", "march_due"),
    [("coupon", 10_000 - 5_000), ("discount", 10_000)],
    ids=["coupon-makes-a-new-discount", "discount-keeps-it"],
)
def test_a_spent_once_coupon_sent_back_on_the_running_phase(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    resend: str,
    march_due: int,
) -> None:
    """The once coupon discounts the first invoice. An amendment-like update in February sends
    the running phase back: as ``{coupon}`` the coupon discounts March again (over-discounted),
    as ``{discount}`` it stays spent."""
    customer = clocked_customer()
    seats, coupon, schedule = _once_coupon_schedule(client, customer)
    made = schedule.phases[0].discounts[0].discount
    _advance(client, customer, FEB_1 + DAY)
    again = {"coupon": coupon.id} if resend == "coupon" else {"discount": made}
    updated = client.v1.subscription_schedules.update(
        schedule.id, params={"phases": [_phase(seats, again)], "proration_behavior": "none"}
    )
    entry = updated.phases[0].discounts[0]
    assert (entry.discount == made) is (resend == "discount")
    _advance(client, customer, MAR_1 + DAY)
    assert [i.amount_due for i in _invoices(client, customer)] == [5_000, 10_000, march_due]


def test_a_repeating_coupon_sent_back_as_coupon_starts_its_months_over(
    client: stripe.StripeClient, clocked_customer: Callable[[], stripe.Customer]
) -> None:
    """Two months from January 1st; sent back as coupon on February 2nd, it runs to April 2nd:
    the April 1st invoice is discounted too."""
    seats = _recurring(client, "Seats", 10_000)
    coupon = client.v1.coupons.create(
        params={"percent_off": 10, "duration": "repeating", "duration_in_months": 2}
    )
    customer = clocked_customer()
    schedule = _schedule(client, customer, _created(_phase(seats, {"coupon": coupon.id})))
    first = schedule.phases[0].discounts[0].discount
    _advance(client, customer, FEB_1 + DAY)
    client.v1.subscription_schedules.update(
        schedule.id, params={"phases": [_phase(seats, {"coupon": coupon.id})]}
    )
    _advance(client, customer, APR_1 + DAY)
    billed = [i.amount_due for i in _invoices(client, customer)]
    assert billed == [9_000, 9_000, 9_000, 9_000]
    sub = client.v1.subscriptions.retrieve(str(schedule.subscription))
    assert first not in sub.discounts


def _refused(
    client: stripe.StripeClient, schedule: stripe.SubscriptionSchedule, phase: Any
) -> stripe.InvalidRequestError:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.subscription_schedules.update(schedule.id, params={"phases": [phase]})
    return info.value


def test_a_discount_the_subscription_does_not_hold_is_refused(
    client: stripe.StripeClient, clocked_customer: Callable[[], stripe.Customer]
) -> None:
    customer = clocked_customer()
    seats, _, schedule = _once_coupon_schedule(client, customer)
    made = schedule.phases[0].discounts[0].discount
    _, _, other = _once_coupon_schedule(client, clocked_customer())
    foreign = other.phases[0].discounts[0].discount
    for unknown in ("di_unknown", foreign):
        error = _refused(client, schedule, _phase(seats, {"discount": unknown}))
        assert (error.http_status, error.code) == (400, "resource_missing")
        assert error.param == "phases[0][discounts][0][discount]"
        assert f"No such discount: '{unknown}'" in str(error.user_message)
    # Nothing changed: the phase still holds the discount it made.
    held = client.v1.subscription_schedules.retrieve(schedule.id)
    assert held.phases[0].discounts[0].discount == made


def test_an_entry_with_both_a_coupon_and_a_discount_is_refused(
    client: stripe.StripeClient, clocked_customer: Callable[[], stripe.Customer]
) -> None:
    customer = clocked_customer()
    seats, coupon, schedule = _once_coupon_schedule(client, customer)
    made = schedule.phases[0].discounts[0].discount
    error = _refused(client, schedule, _phase(seats, {"coupon": coupon.id, "discount": made}))
    assert (error.http_status, error.param) == (400, "phases[0][discounts][0][discount]")
