"""Events for every change, /v1/events, webhook endpoints and signed deliveries, and what
a test clock's advance does to payments (paid, declined → past_due, paid later)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import stripe

from cpqsync_sandbox.stripe_emulator import StripeEmulator
from tests.stripe_emulator.conftest import FROZEN, make_client

DAY = 86_400


def _schedule(
    client: stripe.StripeClient, customer: stripe.Customer, price: stripe.Price, months: int = 3
) -> stripe.SubscriptionSchedule:
    return client.v1.subscription_schedules.create(
        params={
            "customer": customer.id,
            "start_date": FROZEN,
            "end_behavior": "cancel",
            "phases": [
                {
                    "items": [{"price": price.id}],
                    "duration": {"interval": "month", "interval_count": months},
                }
            ],
        }
    )


def _types(client: stripe.StripeClient, **params: Any) -> list[str]:
    page = client.v1.events.list(params={"limit": 100, **params})
    return [event.type for event in reversed(page.data)]


def test_every_change_is_an_event_with_previous_attributes(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    monthly_price: stripe.Price,
) -> None:
    customer = clocked_customer()
    client.v1.customers.update(customer.id, params={"name": "Renamed"})
    created = client.v1.events.list(params={"type": "customer.created"}).data[0]
    assert created.data.object.created == FROZEN  # on a test clock: the clock's time
    updated = client.v1.events.list(params={"type": "customer.updated"}).data[0]
    assert updated.data.object.name == "Renamed"
    assert updated.data.to_dict()["previous_attributes"] == {"name": "Clocked"}
    assert updated.id.startswith("evt_") and updated.livemode is False and updated.api_version

    schedule = _schedule(client, customer, monthly_price)
    assert _types(client, type="invoice.*") == [
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_succeeded",
    ]
    client.v1.test_helpers.test_clocks.advance(
        str(customer.test_clock), params={"frozen_time": FROZEN + 100 * DAY}
    )
    types = _types(client)
    assert "customer.subscription.created" in types
    assert types.count("invoice.paid") == 3
    assert "customer.subscription.deleted" in types
    assert "subscription_schedule.completed" in types
    completed = client.v1.events.list(params={"type": "subscription_schedule.completed"}).data[0]
    assert completed.data.object.id == schedule.id and completed.data.object.status == "completed"
    retrieved = client.v1.events.retrieve(completed.id)
    assert retrieved.type == "subscription_schedule.completed"


def test_events_list_filters_and_pages_newest_first(
    client: stripe.StripeClient, product: stripe.Product
) -> None:
    for name in ("a", "b", "c", "d", "e"):
        client.v1.customers.create(params={"name": name})
    page = client.v1.events.list(params={"limit": 2, "types": ["customer.created"]})
    assert [e.data.object.name for e in page.data] == ["e", "d"] and page.has_more
    rest = client.v1.events.list(
        params={"limit": 10, "type": "customer.created", "starting_after": page.data[-1].id}
    )
    assert [e.data.object.name for e in rest.data] == ["c", "b", "a"] and not rest.has_more
    back = client.v1.events.list(
        params={"limit": 10, "type": "customer.created", "ending_before": rest.data[0].id}
    )
    assert [e.data.object.name for e in back.data] == ["e", "d"]
    newest = page.data[0].created
    assert client.v1.events.list(params={"created": {"gt": newest}}).data == []
    assert len(client.v1.events.list(params={"created": {"lte": newest}, "limit": 100}).data) == 6
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.events.retrieve("evt_missing")
    assert missing.value.http_status == 404 and "No such event" in str(missing.value)


def test_a_declining_card_leaves_the_invoice_open_and_the_subscription_past_due(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    monthly_price: stripe.Price,
) -> None:
    customer = clocked_customer()
    schedule = _schedule(client, customer, monthly_price)
    card = client.v1.payment_methods.attach(
        "pm_card_chargeCustomerFail", params={"customer": customer.id}
    )
    assert card.id.startswith("pm_1") and card.card and card.card.last4 == "0341"
    client.v1.customers.update(
        customer.id, params={"invoice_settings": {"default_payment_method": card.id}}
    )
    client.v1.test_helpers.test_clocks.advance(
        str(customer.test_clock), params={"frozen_time": FROZEN + 35 * DAY}
    )
    sub = client.v1.subscriptions.retrieve(str(schedule.subscription))
    assert sub.status == "past_due"
    failed = client.v1.invoices.retrieve(str(sub.latest_invoice))
    assert failed.status == "open" and failed.attempt_count == 1 and failed.amount_paid == 0
    assert client.v1.customers.retrieve(customer.id).delinquent is True
    failure = client.v1.events.list(params={"type": "invoice.payment_failed"}).data[0]
    assert failure.data.object.id == failed.id
    past_due = client.v1.events.list(params={"type": "customer.subscription.updated"}).data[0]
    assert past_due.data.to_dict()["previous_attributes"]["status"] == "active"

    with pytest.raises(stripe.CardError):
        client.v1.invoices.pay(failed.id)
    good = client.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
    client.v1.customers.update(
        customer.id, params={"invoice_settings": {"default_payment_method": good.id}}
    )
    assert client.v1.invoices.pay(failed.id).status == "paid"
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"
    assert client.v1.customers.retrieve(customer.id).delinquent is False
    with pytest.raises(stripe.CardError):
        client.v1.payment_methods.attach("pm_card_chargeDeclined", params={"customer": customer.id})


def test_cancelling_a_subscription_records_deleted_and_schedule_canceled(
    client: stripe.StripeClient,
    clocked_customer: Callable[[], stripe.Customer],
    monthly_price: stripe.Price,
) -> None:
    schedule = _schedule(client, clocked_customer(), monthly_price)
    client.v1.subscriptions.cancel(str(schedule.subscription))
    types = _types(client)
    assert set(types[-2:]) == {"customer.subscription.deleted", "subscription_schedule.canceled"}


class _Receiver:
    """A loopback HTTP endpoint answering with the statuses it is given, in turn."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.received: list[tuple[bytes, str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((body, self.headers["Stripe-Signature"]))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fast_retry_emulator() -> Iterator[StripeEmulator]:
    # Stripe's hours become milliseconds: 3600 s x 0.0001 = 0.36 s.
    with StripeEmulator(webhook_retry_scale=0.0001) as emu:
        yield emu


def _wait(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_webhooks_are_signed_and_retried_until_accepted(
    fast_retry_emulator: StripeEmulator,
) -> None:
    client = make_client(fast_retry_emulator)
    receiver = _Receiver([500, 500])
    try:
        endpoint = client.v1.webhook_endpoints.create(
            params={"url": receiver.url, "enabled_events": ["customer.created"]}
        )
        assert endpoint.secret and endpoint.secret.startswith("whsec_")
        assert client.v1.webhook_endpoints.retrieve(endpoint.id).secret is None
        customer = client.v1.customers.create(params={"name": "Hooked"})
        client.v1.products.create(params={"name": "not subscribed to"})
        _wait(lambda: len(receiver.received) == 3)
        body, signature = receiver.received[-1]
        event = stripe.Webhook.construct_event(body, signature, endpoint.secret)
        assert event.type == "customer.created" and event.data.object.id == customer.id
        # The receiver sees a request before the emulator sees its answer.
        _wait(lambda: len(fast_retry_emulator.webhook_attempts()) == 3)
        attempts = fast_retry_emulator.webhook_attempts()
        assert [(a.attempt, a.status) for a in attempts] == [(1, 500), (2, 500), (3, 200)]
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.Webhook.construct_event(body, signature, "whsec_wrong")
        assert {json.loads(b)["id"] for b, _ in receiver.received} == {event.id}
    finally:
        receiver.close()


def test_webhook_endpoint_refuses_unknown_event_types(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.webhook_endpoints.create(
            params={"url": "https://example.test/hooks", "enabled_events": ["no.such_event"]}
        )


def test_clock_and_payment_method_events_carry_stripe_names(
    client: stripe.StripeClient, clocked_customer: Callable[[], stripe.Customer]
) -> None:
    customer = clocked_customer()
    client.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
    client.v1.test_helpers.test_clocks.advance(
        str(customer.test_clock), params={"frozen_time": FROZEN + DAY}
    )
    types = _types(client)
    assert types[-3:] == [
        "payment_method.attached",
        "test_helpers.test_clock.advancing",
        "test_helpers.test_clock.ready",
    ]
    assert "payment_method.created" not in types
