"""The whole loop through the real clients: an order activated in the org syncs to Stripe,
Stripe's test clock bills it, and the invoice and subscription state come back onto the Order.

org -> bridge -> Kafka -> sync -> Stripe emulator -> webhooks -> stripe-events -> Kafka ->
billing writeback -> org
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import stripe
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from consumer.writeback import WritebackService
from cpqsync.settings import StripeEventsSettings
from cpqsync_sandbox.datasets import default_dataset
from cpqsync_sandbox.org.simulator import OrgSimulator
from cpqsync_sandbox.stripe_emulator import StripeEmulator
from producer_bridge.stripe_events.service import StripeEventSource
from tests.sync.stack import FAST_GROUP, Stack, open_stack
from tests.sync.test_order_shapes_end_to_end import _order
from tests.writeback.reverse_sync_support import DAY, free_port, wait_for


@pytest.fixture
def demo_org() -> Iterator[OrgSimulator]:
    with OrgSimulator(dataset=default_dataset()) as sim:
        yield sim


@pytest.fixture
def stripe_emulator() -> Iterator[StripeEmulator]:
    with StripeEmulator() as emulator:
        yield emulator


@contextmanager
def _whole_loop(
    org: OrgSimulator,
    emulator: StripeEmulator,
    client: stripe.StripeClient,
    kafka: str,
    name: str,
) -> Iterator[Stack]:
    """The forward stack (bridge, sync, writeback) with Stripe's events coming back: a webhook
    endpoint in the emulator, the stripe-events role and the billing writeback."""
    port = free_port()
    endpoint = client.v1.webhook_endpoints.create(
        params={"url": f"http://127.0.0.1:{port}/stripe/webhooks", "enabled_events": ["*"]}
    )
    assert endpoint.secret is not None
    with contextmanager(open_stack)(org, emulator, kafka, name) as stack:
        stack.settings = stack.settings.model_copy(
            update={
                "stripe_events": StripeEventsSettings(
                    enabled=True, endpoint_secret=SecretStr(endpoint.secret), port=port
                )
            }
        )
        stack.start_bridge()
        stack.start_sync()
        source = StripeEventSource(stack.settings, kafka).start()
        writeback = WritebackService(
            stack.settings,
            bootstrap_servers=kafka,
            group_id=f"{name}-writeback",
            client_config=dict(FAST_GROUP),
            registry=CollectorRegistry(),
        ).start()
        try:
            yield stack
        finally:
            writeback.stop()
            source.stop()


def _activated(org: OrgSimulator, order: str) -> str:
    """Activate ``order`` and wait for it to name its subscription schedule; its id."""
    org.activate_order(order)
    wait_for(
        lambda: str(org.get("Order", order).get("Stripe_ID__c")).startswith("sub_sched_"),
        90,
        f"order {order} synced to a subscription schedule",
    )
    return str(org.get("Order", order)["Stripe_ID__c"])


def test_an_activated_order_shows_its_paid_invoice_and_cancellation(
    kafka: str,
    demo_org: OrgSimulator,
    stripe_emulator: StripeEmulator,
    unique: Callable[[str], str],
) -> None:
    order = demo_org.dataset.refs["order_acme"]  # Net 30: invoices are sent, then paid
    account = str(demo_org.get("Order", order)["AccountId"])
    client = stripe.StripeClient(
        stripe_emulator.api_key, base_addresses={"api": stripe_emulator.api_base}
    )
    # The account's customer lives on a test clock, so the test can make time pass.
    clock = client.v1.test_helpers.test_clocks.create(params={"frozen_time": int(time.time())})
    customer = client.v1.customers.create(params={"name": "Acme", "test_clock": clock.id})
    demo_org.update("Account", account, {"Stripe_ID__c": customer.id})
    with _whole_loop(demo_org, stripe_emulator, client, kafka, unique("b1")) as stack:
        schedule_id = _activated(demo_org, order)

        # The quote starts in a week: a week and a day later the subscription bills.
        client.v1.test_helpers.test_clocks.advance(
            clock.id, params={"frozen_time": clock.frozen_time + 8 * DAY}
        )
        subscription_id = str(client.v1.subscription_schedules.retrieve(schedule_id).subscription)
        invoice = client.v1.invoices.retrieve(
            str(client.v1.subscriptions.retrieve(subscription_id).latest_invoice)
        )
        assert invoice.status == "open"  # Net 30: sent, not charged

        def shows(**fields: object) -> Callable[[], bool]:
            return lambda: all(
                demo_org.get("Order", order).get(f"Stripe_{k}__c") == v for k, v in fields.items()
            )

        wait_for(
            shows(
                Subscription_Status="active",
                Latest_Invoice_Number=invoice.number,
                Latest_Invoice_Status="open",
            ),
            20,
            "the sent invoice on the order",
        )
        client.v1.invoices.pay(invoice.id)
        wait_for(
            shows(Latest_Invoice_Status="paid", Last_Payment_Status="succeeded"),
            20,
            "the paid invoice on the order",
        )
        shown = demo_org.get("Order", order)
        assert shown["Stripe_Latest_Invoice_Amount_Paid__c"] == invoice.amount_due / 100
        assert shown["Stripe_Latest_Invoice_URL__c"] == invoice.hosted_invoice_url

        # Writing billing state is a change event too; the sync must ignore that echo.
        settled = len(stack.results())
        time.sleep(3)
        assert len(stack.results()) == settled

        client.v1.subscriptions.cancel(subscription_id)
        wait_for(shows(Subscription_Status="canceled"), 20, "the cancellation on the order")


def test_an_evergreen_order_names_its_subscription_when_stripe_starts_it(
    kafka: str,
    demo_org: OrgSimulator,
    stripe_emulator: StripeEmulator,
    unique: Callable[[str], str],
) -> None:
    """A4 through the reverse stream: an evergreen order starting in a week names its
    schedule; when Stripe starts the subscription (the test clock passes the start), nothing
    changes in Salesforce, yet the subscription's event reaches the billing writeback, which
    asks for the order's sync, and the order then names the subscription."""
    client = stripe.StripeClient(
        stripe_emulator.api_key, base_addresses={"api": stripe_emulator.api_base}
    )
    clock = client.v1.test_helpers.test_clocks.create(params={"frozen_time": int(time.time())})
    customer = client.v1.customers.create(params={"name": "Evergreen", "test_clock": clock.id})
    start = dt.datetime.fromtimestamp(clock.frozen_time, dt.UTC).date() + dt.timedelta(days=7)
    order, _ = _order(
        demo_org,
        start,
        1,
        [{"product": "Hosting", "SBQQ__SubscriptionType__c": "Evergreen",
          "SBQQ__DefaultSubscriptionTerm__c": 1, "Quantity": 3, "UnitPrice": 250}],
        SBQQ__PaymentTerm__c="Net 30",
    )  # fmt: skip
    account = str(demo_org.get("Order", order)["AccountId"])
    demo_org.update("Account", account, {"Stripe_ID__c": customer.id})
    with _whole_loop(demo_org, stripe_emulator, client, kafka, unique("a4")):
        schedule_id = _activated(demo_org, order)  # not started yet: a week to go
        assert client.v1.subscription_schedules.retrieve(schedule_id).subscription is None

        client.v1.test_helpers.test_clocks.advance(
            clock.id, params={"frozen_time": clock.frozen_time + 8 * DAY}
        )
        subscription_id = client.v1.subscription_schedules.retrieve(schedule_id).subscription
        assert subscription_id is not None and str(subscription_id).startswith("sub_")
        wait_for(
            lambda: demo_org.get("Order", order).get("Stripe_ID__c") == subscription_id,
            60,
            "the order naming its subscription, with no change in Salesforce",
        )
