"""Applying plans with the real stripe client against the Stripe emulator."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

import pytest
import stripe
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from consumer.engine import Pacer
from consumer.sync.apply import PlanApplier
from consumer.sync.dashboard import DashboardLinks
from consumer.sync.failures import IdempotencyConflict, StripeRejected, StripeUnavailable
from consumer.sync.planning import (
    Operation,
    Plan,
    PlanningContext,
    SourceRecord,
    plan_account,
    ref,
)
from consumer.sync.planning.views import AccountView
from consumer.sync.stripe_calls import StripeCaller
from cpqsync.settings import Settings, StripeSettings
from cpqsync.stripe_client import build_stripe_client
from cpqsync_sandbox.stripe_emulator import StripeEmulator

ACCOUNT = SourceRecord("Account", "001A")
PRODUCT = SourceRecord("Product2", "01tA")


def caller_for(emulator: StripeEmulator, rate: float = 500.0, attempts: int = 6) -> StripeCaller:
    settings = StripeSettings(
        api_key=SecretStr(emulator.api_key), api_base=emulator.api_base, max_network_retries=2
    )
    pacer = Pacer("stripe", rate, registry=CollectorRegistry())
    return StripeCaller(
        build_stripe_client(settings),
        pacer,
        rate_limit_attempts=attempts,
        backoff_s=0.2,
        max_backoff_s=1.0,
    )


def product_plan(name: str = "Platform") -> Plan:
    return Plan(
        PRODUCT,
        (
            Operation(
                "product",
                "product.create",
                {"id": "sf_01tA", "name": name},
                PRODUCT,
                f"cpqsync:01tA:product.create:{name}",
            ),
            Operation(
                "price",
                "price.create",
                {"currency": "usd", "product": ref("product"), "unit_amount_decimal": "12000"},
                PRODUCT,
                "cpqsync:01tA:price.create:1",
            ),
        ),
    )


def test_a_plan_applied_twice_creates_each_object_once(emulator: StripeEmulator) -> None:
    applier = PlanApplier(caller_for(emulator))
    first = applier.apply(product_plan())
    second = applier.apply(product_plan())  # the same process: its own memory of the answers
    third = PlanApplier(caller_for(emulator)).apply(product_plan())  # another process: Stripe's
    assert first.error is None and second.error is None and third.error is None
    ids = [a.stripe_id for a in first.applied]
    assert ids == [a.stripe_id for a in second.applied] == [a.stripe_id for a in third.applied]
    [price] = emulator.objects("price")
    assert price["product"] == "sf_01tA"  # the placeholder was filled from the product
    replays = [e.replayed for e in emulator.request_log() if e.method == "POST"]
    assert replays == [False, False, True, True]
    assert all(e.idempotency_key for e in emulator.request_log())


def test_a_refused_request_stops_the_plan_and_quotes_stripe(emulator: StripeEmulator) -> None:
    bad = Operation(
        "customer", "customer.update", {"name": "X"}, ACCOUNT, "cpqsync:k", target="cus_missing"
    )
    outcome = PlanApplier(caller_for(emulator)).apply(Plan(ACCOUNT, (bad,)))
    assert outcome.failed == bad and outcome.error is not None
    text = str(outcome.error)
    assert text.startswith("Stripe Error: No such customer")
    assert "invalid_request_error" in text and "resource_missing" in text
    assert outcome.error.request_id and outcome.error.request_id in text
    link = DashboardLinks().request(outcome.error.request_id)
    assert link.startswith("https://dashboard.stripe.com/test/logs/req_")


def test_429_bursts_are_retried_and_slow_the_pacer(emulator: StripeEmulator) -> None:
    emulator.set_rate_limit(3)
    # Thirty times the allowed rate: give the backoff room to outlast the one-second window.
    caller = caller_for(emulator, rate=100, attempts=12)

    def create(name: str) -> Callable[[stripe.StripeClient], stripe.Customer]:
        return lambda client: client.v1.customers.create({"name": name})

    for n in range(12):
        caller.call(create(f"C{n}"))
    assert len(emulator.objects("customer")) == 12
    assert any(e.status == 429 for e in emulator.request_log())
    assert caller._pacer.rate < 100  # halved on 429 (AIMD)


def test_500s_are_retried_and_persistent_ones_become_retryable(emulator: StripeEmulator) -> None:
    emulator.configure_faults({"kind": "error", "nth": 1, "path": "^/v1/customers$"})
    caller = caller_for(emulator)
    caller.call(lambda c: c.v1.customers.create({"name": "A"}, {"idempotency_key": "k1"}))
    assert len(emulator.objects("customer")) == 1
    emulator.configure_faults({"kind": "error", "rate": 1.0, "path": "^/v1/customers$"})
    try:
        caller.call(lambda c: c.v1.customers.create({"name": "B"}, {"idempotency_key": "k2"}))
    except StripeUnavailable as error:
        assert str(error).startswith("Stripe Error:") and "HTTP 500" in str(error)
    else:
        raise AssertionError("a persistent 500 must surface as StripeUnavailable")


def test_an_update_whose_500_stripe_stored_is_retried_under_a_new_key(
    emulator: StripeEmulator,
) -> None:
    caller = caller_for(emulator)
    customer = caller.call(lambda c: c.v1.customers.create({"name": "Old"}))
    plan = Plan(
        ACCOUNT,
        (
            Operation(
                "customer",
                "customer.update",
                {"name": "New"},
                ACCOUNT,
                "cpqsync:001A:customer.update:1",
                target=customer.id,
            ),
        ),
    )
    emulator.configure_faults(
        {"kind": "error", "nth": 1, "stage": "after", "path": "^/v1/customers/"}
    )
    applier = PlanApplier(caller)
    with pytest.raises(StripeUnavailable):
        applier.apply(plan)  # a 500 after the update ran, now stored under the key
    outcome = applier.apply(plan)  # the engine's retry
    assert outcome.error is None
    assert [c["name"] for c in emulator.objects("customer")] == ["New"]


def _price_plan() -> Plan:
    params = {"currency": "usd", "product_data": {"name": "Seats"}, "unit_amount_decimal": "100"}
    return Plan(
        PRODUCT,
        (Operation("price", "price.create", params, PRODUCT, "cpqsync:802A:price.create:1"),),
    )


def test_a_create_whose_500_stripe_stored_takes_a_new_key_only_when_planned_from_fresh_lookups(
    emulator: StripeEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Stripe began the create, failed before making the price and stored its 500: the key
    replays it for ever. A plan from a first attempt's lookups (which may be remembered) keeps
    failing; one from a retry's lookups, which found no price, makes it under a new key."""
    emulator.configure_faults({"kind": "error", "nth": 1, "stage": "during"})
    applier = PlanApplier(caller_for(emulator))
    with pytest.raises(StripeUnavailable):
        applier.apply(_price_plan())
    with pytest.raises(StripeUnavailable) as replayed:
        applier.apply(_price_plan())  # lookups that may be remembered: no new key
    assert replayed.value.replayed
    assert emulator.objects("price") == []
    with caplog.at_level(logging.WARNING, logger="consumer.sync.apply"):
        outcome = applier.apply(_price_plan(), looked_up_afresh=True)
    assert outcome.error is None
    [warning] = caplog.messages  # the operator sees which key was given up, and for which
    assert "cpqsync:802A:price.create:1 with a stored 5xx" in warning
    assert warning.endswith("again under cpqsync:802A:price.create:1:retry")
    [price] = emulator.objects("price")
    assert outcome.applied[0].stripe_id == price["id"]
    keys = [(e.idempotency_key, e.status) for e in emulator.request_log()]
    assert keys == [
        ("cpqsync:802A:price.create:1", 500),
        ("cpqsync:802A:price.create:1", 500),
        ("cpqsync:802A:price.create:1", 500),
        ("cpqsync:802A:price.create:1:retry", 200),
    ]
    # Sent again (a redelivery, another member): the new key's answer, not a second price.
    again = PlanApplier(caller_for(emulator)).apply(_price_plan(), looked_up_afresh=True)
    assert again.applied[0].stripe_id == price["id"] and again.applied[0].replayed
    assert len(emulator.objects("price")) == 1


def test_new_keys_follow_one_another_while_each_holds_a_stored_500(
    emulator: StripeEmulator,
) -> None:
    emulator.configure_faults(
        {"kind": "error", "nth": 1, "stage": "during"},
        {"kind": "error", "nth": 3, "stage": "during"},
    )
    applier = PlanApplier(caller_for(emulator))
    with pytest.raises(StripeUnavailable):
        applier.apply(_price_plan())
    with pytest.raises(StripeUnavailable):  # the first new key's create fails as it begins
        applier.apply(_price_plan(), looked_up_afresh=True)
    outcome = applier.apply(_price_plan(), looked_up_afresh=True)
    assert outcome.error is None and len(emulator.objects("price")) == 1
    sent = [(str(e.idempotency_key).rsplit(":", 1)[-1], e.replayed) for e in emulator.request_log()]
    assert sent == [
        ("1", False),
        ("1", True),
        ("retry", False),
        ("1", True),
        ("retry", True),
        ("retry2", False),
    ]


def test_an_invoice_item_whose_500_stripe_stored_never_takes_a_new_key(
    emulator: StripeEmulator,
) -> None:
    """No lookup finds an invoice item an earlier request made, so a new key could bill the
    line twice: the stored 500 stays the answer (retried, then dead-lettered)."""
    caller = caller_for(emulator)
    customer = caller.call(lambda c: c.v1.customers.create({"name": "A"}))
    item = Operation(
        "item",
        "invoiceitem.create",
        {"customer": customer.id, "amount": 500, "currency": "usd"},
        SourceRecord("Order", "801A"),
        "cpqsync:801A:invoiceitem.create:1",
    )
    emulator.configure_faults({"kind": "error", "nth": 1, "stage": "after"})
    applier = PlanApplier(caller)
    for _ in range(2):
        with pytest.raises(StripeUnavailable):
            applier.apply(Plan(SourceRecord("Order", "801A"), (item,)), looked_up_afresh=True)
    assert len(emulator.objects("invoiceitem")) == 1


def test_a_live_key_links_to_live_data() -> None:
    live = DashboardLinks.from_settings(StripeSettings(api_key=SecretStr("sk_live_x")))
    test = DashboardLinks.from_settings(StripeSettings(api_key=SecretStr("sk_test_x")))
    assert live.object("price", "price_1") == "https://dashboard.stripe.com/prices/price_1"
    assert test.object("subscription_schedule", "sub_sched_1") == (
        "https://dashboard.stripe.com/test/subscription_schedules/sub_sched_1"
    )


def test_the_client_pins_the_configured_api_version(emulator: StripeEmulator) -> None:
    settings = StripeSettings(api_key=SecretStr(emulator.api_key), api_base=emulator.api_base)
    client = build_stripe_client(settings)
    customer = client.v1.customers.create({"name": "V"})
    assert isinstance(customer, stripe.Customer)
    assert customer.last_response is not None
    assert customer.last_response.headers["Stripe-Version"] == settings.api_version


def test_unrefused_errors_are_classified(emulator: StripeEmulator) -> None:
    caller = caller_for(emulator)
    try:
        caller.call(lambda c: c.v1.customers.retrieve("cus_nope"))
    except StripeRejected as error:
        assert "resource_missing" in str(error)
    else:
        raise AssertionError("a 404 must surface as StripeRejected")


def test_two_members_creating_one_account_customer_make_one_customer() -> None:
    # Regression (chaos): two members synced an account's first orders at once, from hydrations
    # either side of an amendment; keys hashed the differing names, so Stripe made two
    # customers. The create key now names the account only: the second is refused, and its
    # retry re-plans from a fresh lookup instead of creating.
    context = PlanningContext(Settings(), now=dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    before = {"Id": "001Dp0000000AYlIAM", "Name": "Acme", "attributes": {"type": "Account"}}
    after = {**before, "Name": "Acme (renamed)"}
    first = plan_account(AccountView.of(before), context=context)
    second = plan_account(AccountView.of(after), context=context)
    [create_a], [create_b] = first.operations, second.operations
    assert create_a.kind == create_b.kind == "customer.create"
    assert create_a.idempotency_key == create_b.idempotency_key

    with StripeEmulator() as emulator:
        applied = PlanApplier(caller_for(emulator)).apply(first)
        assert applied.error is None
        with pytest.raises(IdempotencyConflict):
            PlanApplier(caller_for(emulator)).apply(second)
        assert [c["name"] for c in emulator.objects("customer")] == ["Acme"]
    assert issubclass(IdempotencyConflict, StripeUnavailable), "retried, never an Error record"
