"""An evergreen subscription through the real client (rule A4): a schedule that releases its
subscription, which then renews with no end date until ``cancel_at``; and schedule updates
that Stripe refuses change nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import stripe

from tests.stripe_emulator.conftest import FROZEN

DAY = 86_400
FEB_1 = 1_769_904_000  # 2026-02-01 (FROZEN is 2026-01-01)
MAY_1 = 1_777_593_600  # 2026-05-01


def _evergreen(
    client: stripe.StripeClient, customer: stripe.Customer, price: stripe.Price
) -> stripe.SubscriptionSchedule:
    return client.v1.subscription_schedules.create(
        params={
            "customer": customer.id,
            "start_date": FROZEN,
            "end_behavior": "release",
            "default_settings": {
                "collection_method": "send_invoice",
                "invoice_settings": {"days_until_due": 30},
            },
            "phases": [{"items": [{"price": price.id, "quantity": 2}], "end_date": FEB_1}],
        }
    )


def test_released_subscription_renews_until_its_cancel_at(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    monthly_price: stripe.Price,
) -> None:
    customer = clocked_customer()
    clock = str(customer.test_clock)
    schedule = _evergreen(client, customer, monthly_price)
    sub_id = str(schedule.subscription)

    client.v1.test_helpers.test_clocks.advance(clock, params={"frozen_time": FEB_1 + DAY})
    released = client.v1.subscription_schedules.retrieve(schedule.id)
    assert released.status == "released" and released.released_subscription == sub_id
    subscription = client.v1.subscriptions.retrieve(sub_id)
    assert subscription.status == "active" and subscription.schedule is None
    assert subscription.collection_method == "send_invoice"

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.subscriptions.update(sub_id, params={"cancel_at": FROZEN})
    assert refused.value.param == "cancel_at"

    updated = client.v1.subscriptions.update(sub_id, params={"cancel_at": MAY_1})
    assert updated.cancel_at == MAY_1
    client.v1.test_helpers.test_clocks.advance(clock, params={"frozen_time": MAY_1 + DAY})
    ended = client.v1.subscriptions.retrieve(sub_id)
    assert ended.status == "canceled" and ended.canceled_at == MAY_1
    invoices = client.v1.invoices.list(params={"customer": customer.id, "limit": 100}).data
    # Billed in advance on Jan 1 (the schedule's phase), then Feb 1, Mar 1 and Apr 1 after the
    # release; nothing from May 1, when it was cancelled.
    billed = sorted((i.created, i.amount_due) for i in invoices)
    assert billed == [(day, 2 * 12_000) for day in (FROZEN, FEB_1, 1_772_323_200, 1_775_001_600)]


def test_a_refused_schedule_update_changes_nothing(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    monthly_price: stripe.Price,
) -> None:
    customer = clocked_customer()
    schedule = _evergreen(client, customer, monthly_price)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscription_schedules.update(
            schedule.id,
            params={
                "end_behavior": "cancel",
                "phases": [
                    {
                        "start_date": FROZEN,
                        "end_date": MAY_1,
                        "items": [{"price": "price_missing", "quantity": 2}],
                    }
                ],
            },
        )
    held = client.v1.subscription_schedules.retrieve(schedule.id)
    assert held.end_behavior == "release"
    assert held.phases[0].end_date == FEB_1
