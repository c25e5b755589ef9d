"""Subscription schedules and the subscriptions they start, through the real client."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import stripe

from cpqsync_sandbox.stripe_emulator import StripeEmulator
from tests.stripe_emulator.conftest import FROZEN

DAY = 86_400
FEB_1 = 1_769_904_000  # 2026-02-01
JAN_1_2027 = 1_798_761_600


def one_time_price(client: stripe.StripeClient, product: stripe.Product) -> stripe.Price:
    return client.v1.prices.create(
        params={"currency": "usd", "product": product.id, "unit_amount": 50_000}
    )


def test_schedule_with_duration_starts_its_subscription(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    monthly_price: stripe.Price,
    product: stripe.Product,
) -> None:
    customer = clocked_customer()
    setup_fee = one_time_price(client, product)
    schedule = client.v1.subscription_schedules.create(
        params={
            "customer": customer.id,
            "start_date": FROZEN,
            "end_behavior": "cancel",
            "metadata": {"salesforce_order_id": "801A"},
            "phases": [
                {
                    "items": [{"price": monthly_price.id, "quantity": 3}],
                    "add_invoice_items": [{"price": setup_fee.id}],
                    "duration": {"interval": "month", "interval_count": 12},
                    "proration_behavior": "none",
                    "collection_method": "send_invoice",
                    "invoice_settings": {"days_until_due": 30},
                    "metadata": {"phase": "initial"},
                }
            ],
        }
    )
    assert isinstance(schedule, stripe.SubscriptionSchedule)
    assert schedule.status == "active"
    assert schedule.end_behavior == "cancel"
    phase = schedule.phases[0]
    assert (phase.start_date, phase.end_date) == (FROZEN, JAN_1_2027)
    assert [(i.price, i.quantity) for i in phase.items] == [(monthly_price.id, 3)]
    assert phase.add_invoice_items[0].price == setup_fee.id
    assert phase.invoice_settings is not None and phase.invoice_settings.days_until_due == 30
    assert phase.proration_behavior == "none" and phase.metadata["phase"] == "initial"
    assert schedule.current_phase is not None and schedule.current_phase.end_date == JAN_1_2027

    subscription = client.v1.subscriptions.retrieve(str(schedule.subscription))
    assert subscription.status == "active" and subscription.schedule == schedule.id
    item = subscription.items.data[0]
    assert item.price.id == monthly_price.id and item.quantity == 3
    assert (item.current_period_start, item.current_period_end) == (FROZEN, FEB_1)
    first = client.v1.invoices.retrieve(str(subscription.latest_invoice))
    assert first.billing_reason == "subscription_create"
    assert first.amount_due == 3 * 12_000 + 50_000
    assert first.status == "open" and first.due_date == FROZEN + 30 * DAY


def test_end_date_phases_chain(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    monthly_price: stripe.Price,
) -> None:
    customer = clocked_customer()
    schedule = client.v1.subscription_schedules.create(
        params={
            "customer": customer.id,
            "start_date": FROZEN,
            "phases": [
                {"items": [{"price": monthly_price.id}], "end_date": FEB_1},
                {"items": [{"price": monthly_price.id, "quantity": 2}], "end_date": JAN_1_2027},
            ],
        }
    )
    assert [(p.start_date, p.end_date) for p in schedule.phases] == [
        (FROZEN, FEB_1),
        (FEB_1, JAN_1_2027),
    ]
    assert schedule.end_behavior == "release"


def test_future_start_is_not_started_and_backdated_start_bills_elapsed_periods(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    monthly_price: stripe.Price,
) -> None:
    customer = clocked_customer()
    future = client.v1.subscription_schedules.create(
        params={
            "customer": customer.id,
            "start_date": FEB_1,
            "phases": [{"items": [{"price": monthly_price.id}], "end_date": JAN_1_2027}],
        }
    )
    assert future.status == "not_started" and future.subscription is None
    backdated = client.v1.subscription_schedules.create(
        params={
            "customer": customer.id,
            "start_date": FROZEN - 60 * DAY,
            "phases": [{"items": [{"price": monthly_price.id}], "duration": {"interval": "year"}}],
        }
    )
    assert backdated.status == "active"
    sub = client.v1.subscriptions.retrieve(str(backdated.subscription))
    assert sub.start_date == FROZEN - 60 * DAY
    period = sub.items.data[0]
    assert period.current_period_start <= FROZEN < period.current_period_end
    invoices = client.v1.invoices.list(params={"subscription": sub.id})
    # Nov 2 - Dec 2 and Dec 2 - Jan 2 (the period in progress): one invoice each
    licensed = [i.lines.data[0].period.start for i in invoices.data]
    assert licensed == [FROZEN - 30 * DAY, FROZEN - 60 * DAY]


@pytest.mark.parametrize(
    ("phase", "param"),
    [
        ({"end_date": FROZEN - DAY}, "phases[0][end_date]"),
        ({"end_date": FEB_1, "duration": {"interval": "month"}}, "phases[0][end_date]"),
    ],
)
def test_phase_timing_errors_name_the_phase(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    monthly_price: stripe.Price,
    phase: dict[str, Any],
    param: str,
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.subscription_schedules.create(
            params={
                "customer": clocked_customer().id,
                "start_date": FROZEN,
                "phases": [{"items": [{"price": monthly_price.id}], **phase}],
            }
        )
    assert info.value.param == param


def test_item_checks(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    monthly_price: stripe.Price,
    product: stripe.Product,
) -> None:
    customer = clocked_customer()

    def attempt(items: list[dict[str, Any]]) -> stripe.InvalidRequestError:
        with pytest.raises(stripe.InvalidRequestError) as info:
            client.v1.subscription_schedules.create(
                params={
                    "customer": customer.id,
                    "phases": [{"items": items, "duration": {"interval": "year"}}],  # type: ignore[typeddict-item]
                }
            )
        return info.value

    one_time = one_time_price(client, product)
    assert "type=one_time" in str(attempt([{"price": one_time.id}]).user_message)
    assert attempt([{"price": "price_nope"}]).param == "phases[0][items][0][price]"
    client.v1.prices.update(monthly_price.id, params={"active": False})
    assert "inactive" in str(attempt([{"price": monthly_price.id}]).user_message)


def test_missing_customer_is_resource_missing(
    client: stripe.StripeClient, monthly_price: stripe.Price
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.subscription_schedules.create(
            params={"customer": "cus_nope", "phases": [{"items": [{"price": monthly_price.id}]}]}
        )
    assert (info.value.code, info.value.param) == ("resource_missing", "customer")


def test_send_invoice_needs_days_until_due(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    monthly_price: stripe.Price,
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.subscription_schedules.create(
            params={
                "customer": clocked_customer().id,
                "phases": [
                    {"items": [{"price": monthly_price.id}], "collection_method": "send_invoice"}
                ],
            }
        )
    assert info.value.param == "phases[0][invoice_settings][days_until_due]"


def test_update_replaces_phases_and_the_subscription_follows(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    monthly_price: stripe.Price,
    product: stripe.Product,
) -> None:
    customer = clocked_customer()
    schedule = client.v1.subscription_schedules.create(
        params={
            "customer": customer.id,
            "start_date": FROZEN,
            "phases": [{"items": [{"price": monthly_price.id}], "end_date": JAN_1_2027}],
        }
    )
    upgraded = client.v1.prices.create(
        params={
            "currency": "usd",
            "product": product.id,
            "unit_amount": 20_000,
            "recurring": {"interval": "month"},
        }
    )
    updated = client.v1.subscription_schedules.update(
        schedule.id,
        params={
            "end_behavior": "cancel",
            "phases": [
                {
                    "start_date": FROZEN,
                    "items": [{"price": upgraded.id, "quantity": 5}],
                    "end_date": JAN_1_2027,
                }
            ],
        },
    )
    assert [(i.price, i.quantity) for i in updated.phases[0].items] == [(upgraded.id, 5)]
    sub = client.v1.subscriptions.retrieve(str(updated.subscription))
    assert [(i.price.id, i.quantity) for i in sub.items.data] == [(upgraded.id, 5)]


def test_ending_the_last_phase_now_cancels(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    monthly_price: stripe.Price,
) -> None:
    """Rule A2: an amendment taking every line to 0 ends the last phase at once."""
    customer = clocked_customer()
    schedule = client.v1.subscription_schedules.create(
        params={
            "customer": customer.id,
            "start_date": FROZEN - 10 * DAY,
            "end_behavior": "cancel",
            "phases": [{"items": [{"price": monthly_price.id}], "end_date": JAN_1_2027}],
        }
    )
    updated = client.v1.subscription_schedules.update(
        schedule.id,
        params={
            "phases": [
                {
                    "start_date": FROZEN - 10 * DAY,
                    "items": [{"price": monthly_price.id}],
                    "end_date": "now",
                }
            ]
        },
    )
    assert updated.status == "completed"
    assert client.v1.subscriptions.retrieve(str(schedule.subscription)).status == "canceled"


def test_cancel_and_release(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    monthly_price: stripe.Price,
) -> None:
    customer = clocked_customer()
    params: Any = {
        "customer": customer.id,
        "phases": [{"items": [{"price": monthly_price.id}], "duration": {"interval": "year"}}],
    }
    canceled = client.v1.subscription_schedules.cancel(
        client.v1.subscription_schedules.create(params=params).id
    )
    assert canceled.status == "canceled" and canceled.canceled_at is not None
    assert client.v1.subscriptions.retrieve(str(canceled.subscription)).status == "canceled"

    released = client.v1.subscription_schedules.release(
        client.v1.subscription_schedules.create(params=params).id
    )
    assert released.status == "released" and released.subscription is None
    kept = client.v1.subscriptions.retrieve(str(released.released_subscription))
    assert kept.status == "active" and kept.schedule is None
    with pytest.raises(stripe.InvalidRequestError, match="released"):
        client.v1.subscription_schedules.update(released.id, params={"metadata": {"a": "b"}})


def test_list_by_customer_and_objects_helper(
    client: stripe.StripeClient,
    emulator: StripeEmulator,
    clocked_customer: Callable[[], stripe.Customer],
    monthly_price: stripe.Price,
) -> None:
    first, second = clocked_customer(), clocked_customer()
    for customer in (first, second):
        client.v1.subscription_schedules.create(
            params={"customer": customer.id, "phases": [{"items": [{"price": monthly_price.id}]}]}
        )
    listed = client.v1.subscription_schedules.list(params={"customer": first.id})
    assert [s.customer for s in listed.data] == [first.id]
    assert {s["customer"] for s in emulator.objects("subscription_schedule")} == {
        first.id,
        second.id,
    }


def test_expand_subscription_on_schedule(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    monthly_price: stripe.Price,
) -> None:
    schedule = client.v1.subscription_schedules.create(
        params={
            "customer": clocked_customer().id,
            "phases": [{"items": [{"price": monthly_price.id}]}],
            "expand": ["subscription.latest_invoice"],
        }
    )
    assert isinstance(schedule.subscription, stripe.Subscription)
    assert isinstance(schedule.subscription.latest_invoice, stripe.Invoice)


def _running_schedule(
    client: stripe.StripeClient,
    customer: stripe.Customer,
    price: stripe.Price,
    *,
    start: int = FROZEN - 10 * DAY,
) -> stripe.SubscriptionSchedule:
    return client.v1.subscription_schedules.create(
        params={
            "customer": customer.id,
            "start_date": start,
            "end_behavior": "cancel",
            "phases": [{"items": [{"price": price.id, "quantity": 5}], "end_date": JAN_1_2027}],
        }
    )


def test_an_amendment_phase_starting_now_takes_over_the_subscription(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    monthly_price: stripe.Price,
) -> None:
    """Rule A1: the current phase ends now and the amended phase starts now, unprorated."""
    schedule = _running_schedule(client, clocked_customer(), monthly_price)
    updated = client.v1.subscription_schedules.update(
        schedule.id,
        params={
            "proration_behavior": "none",
            "phases": [
                {
                    "start_date": FROZEN - 10 * DAY,
                    "items": [{"price": monthly_price.id, "quantity": 5}],
                    "end_date": "now",
                },
                {
                    "start_date": "now",
                    "items": [{"price": monthly_price.id, "quantity": 7}],
                    "end_date": JAN_1_2027,
                    "proration_behavior": "none",
                },
            ],
        },
    )
    assert [(p.start_date, p.end_date) for p in updated.phases] == [
        (FROZEN - 10 * DAY, FROZEN),
        (FROZEN, JAN_1_2027),
    ]
    assert updated.current_phase is not None and updated.current_phase.start_date == FROZEN
    sub = client.v1.subscriptions.retrieve(str(updated.subscription))
    assert [(i.price.id, i.quantity) for i in sub.items.data] == [(monthly_price.id, 7)]


def test_the_current_phase_keeps_its_start(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    monthly_price: stripe.Price,
) -> None:
    schedule = _running_schedule(client, clocked_customer(), monthly_price)
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.subscription_schedules.update(
            schedule.id,
            params={
                "phases": [
                    {
                        "start_date": FROZEN - 5 * DAY,
                        "items": [{"price": monthly_price.id, "quantity": 5}],
                        "end_date": JAN_1_2027,
                    }
                ]
            },
        )
    assert info.value.http_status == 400
    assert "You can not modify the start date of the current phase" in str(info.value)
    assert info.value.param == "phases[0][start_date]"


def test_an_update_needs_a_start_date_to_anchor_its_phases(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    monthly_price: stripe.Price,
) -> None:
    schedule = _running_schedule(client, clocked_customer(), monthly_price)
    with pytest.raises(stripe.InvalidRequestError, match="to anchor end dates to"):
        client.v1.subscription_schedules.update(
            schedule.id,
            params={"phases": [{"items": [{"price": monthly_price.id}], "end_date": JAN_1_2027}]},
        )


def test_a_running_phase_cannot_end_in_the_past(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    monthly_price: stripe.Price,
) -> None:
    """A backdated amendment cannot rewrite what was billed: it has to start now."""
    schedule = _running_schedule(client, clocked_customer(), monthly_price)
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.subscription_schedules.update(
            schedule.id,
            params={
                "phases": [
                    {
                        "start_date": FROZEN - 10 * DAY,
                        "items": [{"price": monthly_price.id, "quantity": 5}],
                        "end_date": FROZEN - 2 * DAY,
                    },
                    {
                        "items": [{"price": monthly_price.id, "quantity": 7}],
                        "end_date": JAN_1_2027,
                    },
                ]
            },
        )
    assert info.value.param == "phases[0][end_date]"


def test_ended_phases_come_back_unchanged(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    monthly_price: stripe.Price,
) -> None:
    customer = clocked_customer()
    schedule = client.v1.subscription_schedules.create(
        params={
            "customer": customer.id,
            "start_date": FROZEN - 40 * DAY,
            "end_behavior": "cancel",
            "phases": [
                {
                    "items": [{"price": monthly_price.id, "quantity": 5}],
                    "end_date": FROZEN - 9 * DAY,
                },
                {"items": [{"price": monthly_price.id, "quantity": 7}], "end_date": JAN_1_2027},
            ],
        }
    )
    past = {
        "start_date": FROZEN - 40 * DAY,
        "items": [{"price": monthly_price.id, "quantity": 5}],
        "end_date": FROZEN - 9 * DAY,
    }
    current = {"items": [{"price": monthly_price.id, "quantity": 7}], "end_date": JAN_1_2027}
    changed_past = {**past, "items": [{"price": monthly_price.id, "quantity": 4}]}
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.subscription_schedules.update(
            schedule.id, params={"phases": [changed_past, current]}
        )
    assert info.value.param == "phases[0]"
    updated = client.v1.subscription_schedules.update(
        schedule.id,
        params={
            "phases": [past, {**current, "items": [{"price": monthly_price.id, "quantity": 9}]}]
        },
    )
    assert [i.quantity for p in updated.phases for i in p.items] == [5, 9]


def test_proration_behavior_takes_stripes_values_only(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    monthly_price: stripe.Price,
) -> None:
    schedule = _running_schedule(client, clocked_customer(), monthly_price)
    phase = {
        "start_date": FROZEN - 10 * DAY,
        "items": [{"price": monthly_price.id, "quantity": 6}],
        "end_date": JAN_1_2027,
    }
    bad: Any = {"proration_behavior": "prorate_later", "phases": [phase]}
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.subscription_schedules.update(schedule.id, params=bad)
    assert info.value.param == "proration_behavior"
    for value in ("none", "create_prorations", "always_invoice"):
        ok: Any = {"proration_behavior": value, "phases": [phase]}
        client.v1.subscription_schedules.update(schedule.id, params=ok)


@pytest.mark.parametrize("ending", ["cancel", "release", "complete"])
def test_an_ended_schedule_refuses_updates(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    monthly_price: stripe.Price,
    ending: str,
) -> None:
    """Rule A1 errors: an amendment of a schedule released or cancelled in Stripe."""
    schedule = _running_schedule(client, clocked_customer(), monthly_price)
    phase: Any = {
        "start_date": FROZEN - 10 * DAY,
        "items": [{"price": monthly_price.id, "quantity": 5}],
        "end_date": "now",
    }
    if ending == "cancel":
        ended = client.v1.subscription_schedules.cancel(schedule.id)
        status = "canceled"
        assert client.v1.subscriptions.retrieve(str(ended.subscription)).status == "canceled"
    elif ending == "release":
        ended = client.v1.subscription_schedules.release(schedule.id)
        status = "released"
        kept = client.v1.subscriptions.retrieve(str(ended.released_subscription))
        assert kept.status == "active"
    else:
        ended = client.v1.subscription_schedules.update(schedule.id, params={"phases": [phase]})
        status = "completed"
    assert ended.status == status
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.subscription_schedules.update(schedule.id, params={"phases": [phase]})
    assert info.value.http_status == 400
    assert f"currently in the `{status}` status" in str(info.value)
    with pytest.raises(stripe.InvalidRequestError, match=status):
        client.v1.subscription_schedules.cancel(schedule.id)


def test_an_archived_price_keeps_billing_where_it_is_but_is_not_used_anew(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    monthly_price: stripe.Price,
    product: stripe.Product,
) -> None:
    """A line's own price is archived once its schedule exists (P6); an amendment must still
    send it back (ended phases unchanged, the line continuing), and Stripe takes it there."""
    schedule = _running_schedule(client, clocked_customer(), monthly_price)
    client.v1.prices.update(monthly_price.id, params={"active": False})
    kept = {
        "start_date": FROZEN - 10 * DAY,
        "items": [{"price": monthly_price.id, "quantity": 5}],
        "end_date": "now",
    }
    updated = client.v1.subscription_schedules.update(
        schedule.id,
        params={
            "phases": [
                kept,
                {"items": [{"price": monthly_price.id, "quantity": 7}], "end_date": JAN_1_2027},
            ]
        },
    )
    assert [i.quantity for p in updated.phases for i in p.items] == [5, 7]
    other = client.v1.prices.create(
        params={
            "currency": "usd",
            "product": product.id,
            "unit_amount": 500,
            "recurring": {"interval": "month"},
        }
    )
    client.v1.prices.update(other.id, params={"active": False})
    with pytest.raises(stripe.InvalidRequestError, match="inactive"):
        client.v1.subscription_schedules.update(
            schedule.id,
            params={
                "phases": [
                    {
                        "start_date": FROZEN - 10 * DAY,
                        "items": [{"price": monthly_price.id, "quantity": 5}],
                        "end_date": FROZEN,
                    },
                    {"items": [{"price": other.id, "quantity": 7}], "end_date": JAN_1_2027},
                ]
            },
        )


def test_add_invoice_items_of_a_phase_started_now_bill_with_the_next_invoice(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    monthly_price: stripe.Price,
    product: stripe.Product,
) -> None:
    """Rule A1's proration item: an amendment phase starting now carries the rest of the
    period as an add_invoice_item; Stripe appends it to the subscription's next invoice."""
    customer = clocked_customer()
    schedule = _running_schedule(client, customer, monthly_price)
    client.v1.subscription_schedules.update(
        schedule.id,
        params={
            "proration_behavior": "none",
            "phases": [
                {
                    "start_date": FROZEN - 10 * DAY,
                    "items": [{"price": monthly_price.id, "quantity": 5}],
                    "end_date": "now",
                },
                {
                    "items": [{"price": monthly_price.id, "quantity": 7}],
                    "add_invoice_items": [
                        {
                            "price_data": {
                                "currency": "usd",
                                "product": product.id,
                                "unit_amount_decimal": "8387",
                            },
                            "quantity": 2,
                        }
                    ],
                    "end_date": JAN_1_2027,
                },
            ],
        },
    )
    before = {i.id for i in client.v1.invoices.list(params={"customer": customer.id}).data}
    assert customer.test_clock is not None
    clock_id = (
        customer.test_clock if isinstance(customer.test_clock, str) else customer.test_clock.id
    )
    client.v1.test_helpers.test_clocks.advance(clock_id, params={"frozen_time": FROZEN + 25 * DAY})
    new = [
        i
        for i in client.v1.invoices.list(params={"customer": customer.id}).data
        if i.id not in before
    ]
    assert len(new) == 1
    amounts = sorted(line.amount for line in new[0].lines.data)
    # 7 seats for the new period, and the 2 added seats' rest of the previous one, once.
    assert amounts == [2 * 8387, 7 * 12000]
