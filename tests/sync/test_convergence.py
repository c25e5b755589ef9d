"""An update that would set what Stripe already holds is dropped from the plan."""

from __future__ import annotations

from consumer.sync.convergence import contained, without_unchanged_updates
from consumer.sync.planning import Operation, Plan, SourceRecord, ref

ORDER = SourceRecord("Order", "801A")
SCHEDULE = {
    "id": "sub_sched_1",
    "end_behavior": "cancel",
    "metadata": {"salesforce_order_id": "801A", "other": "kept"},
    "phases": [
        {
            "start_date": 1_767_225_600,
            "end_date": 1_798_761_600,
            "items": [{"price": "price_1", "quantity": 25, "metadata": {}}],
        }
    ],
}


def update(params: dict[str, object], target: str = "sub_sched_1") -> Operation:
    return Operation("s", "subscription_schedule.update", params, ORDER, "key", target)


def test_values_compare_as_stripe_returns_them() -> None:
    assert contained({"unit_amount_decimal": "12000"}, {"unit_amount_decimal": "12000.000000"})
    assert contained({"price": "price_1"}, {"price": {"id": "price_1", "object": "price"}})
    assert not contained({"quantity": 2}, {"quantity": 25})
    assert not contained({"price": ref("price:line:1")}, {"price": "price_1"})
    assert not contained([{"price": "price_1"}], [{"price": "price_1"}, {"price": "price_2"}])


def test_an_update_matching_the_schedule_is_dropped_and_a_real_change_kept() -> None:
    same = update(
        {
            "end_behavior": "cancel",
            "metadata": {"salesforce_order_id": "801A"},
            "phases": [
                {
                    "start_date": 1_767_225_600,
                    "end_date": 1_798_761_600,
                    "items": [{"price": "price_1", "quantity": 25}],
                }
            ],
        }
    )
    plan = Plan(ORDER, (same,))
    assert without_unchanged_updates(plan, {"sub_sched_1": SCHEDULE}).operations == ()
    changed = update({"phases": [{"items": [{"price": "price_1", "quantity": 30}]}]})
    kept = without_unchanged_updates(Plan(ORDER, (changed,)), {"sub_sched_1": SCHEDULE})
    assert kept.operations == (changed,)
    unknown = update({"end_behavior": "cancel"}, target="sub_sched_2")
    assert without_unchanged_updates(Plan(ORDER, (unknown,)), {"sub_sched_1": SCHEDULE}).operations


def test_a_customer_holding_the_old_version_token_is_updated_once_to_drop_it() -> None:
    """K1: cpqsync's former salesforce_account_modstamp is bookkeeping, not the reference's
    metadata; a customer update unsets it ("" removes a metadata key) and, once it is gone,
    the same update changes nothing."""
    account = SourceRecord("Account", "001A")
    params = {
        "name": "Acme",
        "metadata": {"salesforce_account_id": "001A", "salesforce_account_modstamp": ""},
    }
    update = Operation("c", "customer.update", params, account, "key", "cus_1")
    plan = Plan(account, (update,))
    old = {
        "id": "cus_1",
        "name": "Acme",
        "metadata": {"salesforce_account_id": "001A", "salesforce_account_modstamp": "v1"},
    }
    assert without_unchanged_updates(plan, {"cus_1": old}).operations == (update,)
    cleaned = {"id": "cus_1", "name": "Acme", "metadata": {"salesforce_account_id": "001A"}}
    assert without_unchanged_updates(plan, {"cus_1": cleaned}).operations == ()


def test_a_phase_name_alone_does_not_rewrite_a_schedule_synced_before_it() -> None:
    """K1 added salesforce_order_id to each phase; a schedule made without it is not rewritten
    (re-sending its archived line prices) for that alone, only with a real change."""
    named = {"salesforce_order_id": "801A", "salesforce_order_link": "https://sf/801A"}

    def phase(quantity: int) -> dict[str, object]:
        return {
            "start_date": 1_767_225_600,
            "end_date": 1_798_761_600,
            "metadata": named,
            "items": [{"price": "price_1", "quantity": quantity}],
        }

    unchanged = update({"end_behavior": "cancel", "phases": [phase(25)]})
    changed = update({"end_behavior": "cancel", "phases": [phase(30)]})
    plan = Plan(ORDER, (unchanged,))
    assert without_unchanged_updates(plan, {"sub_sched_1": SCHEDULE}).operations == ()
    kept = without_unchanged_updates(Plan(ORDER, (changed,)), {"sub_sched_1": SCHEDULE})
    assert kept.operations == (changed,)
    assert kept.operations[0].params["phases"][0]["metadata"] == named  # sent with the change


def test_an_inline_price_stripe_made_into_a_price_counts_as_held() -> None:
    """O7's final phase, A1's prorations and inline line prices send ``price_data``; Stripe holds
    the price it made, compared field by field when the view has it expanded."""
    data = {
        "currency": "usd",
        "product": "prod_1",
        "recurring": {"interval": "month", "interval_count": 6},
        "unit_amount_decimal": "60000",
    }
    held_as_id = {"price": "price_made", "quantity": 3}
    # An id alone cannot show what the price was made of (an inline line price changes alone).
    assert not contained({"price_data": data, "quantity": 3}, held_as_id)
    expanded = {
        "price": {
            "id": "price_made",
            "currency": "usd",
            "product": "prod_1",
            "recurring": {"interval": "month", "interval_count": 6, "usage_type": "licensed"},
            "unit_amount_decimal": "60000.000000000000",
        },
        "quantity": 3,
    }
    assert contained({"price_data": data, "quantity": 3}, expanded)
    assert not contained({"price_data": {**data, "unit_amount_decimal": "50000"}}, expanded)


def test_a_kept_discount_is_held_but_its_coupon_sent_again_is_a_change() -> None:
    """A5: the plan sends a started phase's coupon as the discount Stripe made of it; the
    lookups read that entry's discount expanded. The same discount id is held (nothing to
    write); the coupon itself is not, since Stripe would make a new discount of it (a spent
    once coupon would discount again)."""
    made = {
        "id": "di_1",
        "object": "discount",
        "source": {"coupon": "sf_coupon_a", "type": "coupon"},
    }
    phase = {"start_date": 1_767_225_600, "end_date": 1_798_761_600}
    items = [{"price": "price_1", "quantity": 25}]
    held = {**phase, "items": items, "discounts": [{"coupon": None, "discount": made}]}
    schedule = {**SCHEDULE, "phases": [held]}
    kept = update({"phases": [{**phase, "items": items, "discounts": [{"discount": "di_1"}]}]})
    again = update(
        {"phases": [{**phase, "items": items, "discounts": [{"coupon": "sf_coupon_a"}]}]}
    )
    plan = Plan(ORDER, (kept, again))
    assert without_unchanged_updates(plan, {"sub_sched_1": schedule}).operations == (again,)
