"""A Stripe emulator, a REST org, Kafka, the Stripe event source and the billing writeback,
wired as a deployment would be: Stripe -> webhook/catch-up -> stripe.events -> org."""

from __future__ import annotations

import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import stripe
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from consumer.writeback import WritebackService
from cpqsync.kafka.topics import Topics, ensure_topics
from cpqsync.mapping.reverse_mappings import ReverseMappings
from cpqsync.settings import Settings, StripeEventsSettings, StripeSettings
from cpqsync_sandbox.org.simulator import OrgSimulator
from cpqsync_sandbox.stripe_emulator import StripeEmulator
from producer_bridge.stripe_events.service import StripeEventSource
from schemas.codec import Codec
from schemas.models import StripeEvent
from tests.bridge.kafka_read import read_topic
from tests.writeback.support import settings_for

FROZEN = 1_767_225_600  # 2026-01-01T00:00:00Z
DAY = 86_400


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ReverseSync:
    org: OrgSimulator
    emulator: StripeEmulator
    kafka: str
    prefix: str
    client: stripe.StripeClient
    settings: Settings
    webhook_endpoint: str
    sources: list[StripeEventSource] = field(default_factory=list)

    @property
    def topic(self) -> str:
        return Topics(self.prefix).stripe_events

    def start_source(self) -> StripeEventSource:
        source = StripeEventSource(self.settings, self.kafka).start()
        self.sources.append(source)
        return source

    def stop_source(self, source: StripeEventSource) -> None:
        self.sources.remove(source)
        source.stop()

    def topic_events(self) -> list[StripeEvent]:
        codec = Codec()
        return [
            codec.decode_as(r.value, self.topic, StripeEvent)
            for r in read_topic(self.kafka, self.topic)
        ]

    def duplicated_ids(self) -> dict[str, int]:
        counts = Counter(e.event_id for e in self.topic_events())
        return {i: n for i, n in counts.items() if n > 1}

    def subscribe(
        self, order_id: str, account_id: str, *, months: int = 12
    ) -> tuple[stripe.Customer, stripe.SubscriptionSchedule]:
        """What the forward sync would have made for the order, on a fresh test clock."""
        clock = self.client.v1.test_helpers.test_clocks.create(params={"frozen_time": FROZEN})
        customer = self.client.v1.customers.create(
            params={
                "name": "Acme",
                "test_clock": clock.id,
                "metadata": {"salesforce_account_id": account_id},
            }
        )
        product = self.client.v1.products.create(params={"name": "Platform"})
        price = self.client.v1.prices.create(
            params={
                "currency": "usd",
                "product": product.id,
                "unit_amount": 12_000,
                "recurring": {"interval": "month"},
            }
        )
        schedule = self.client.v1.subscription_schedules.create(
            params={
                "customer": customer.id,
                "start_date": FROZEN,
                "end_behavior": "cancel",
                "metadata": {"salesforce_order_id": order_id},
                "phases": [
                    {
                        "items": [{"price": price.id}],
                        "duration": {"interval": "month", "interval_count": months},
                    }
                ],
            }
        )
        return customer, schedule

    def advance(self, customer: stripe.Customer, days: int) -> None:
        clock_id = str(customer.test_clock)
        clock = self.client.v1.test_helpers.test_clocks.retrieve(clock_id)
        self.client.v1.test_helpers.test_clocks.advance(
            clock_id, params={"frozen_time": clock.frozen_time + days * DAY}
        )

    def decline_payments(self, customer: stripe.Customer) -> None:
        card = self.client.v1.payment_methods.attach(
            "pm_card_chargeCustomerFail", params={"customer": customer.id}
        )
        self.client.v1.customers.update(
            customer.id, params={"invoice_settings": {"default_payment_method": card.id}}
        )


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Wait until ``condition``; return the seconds it took."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.1)
    return time.monotonic() - started


def reverse_settings(
    org: OrgSimulator,
    emulator: StripeEmulator,
    kafka: str,
    prefix: str,
    secret: str,
    port: int,
    invoice_records: dict[str, str] | None = None,
) -> Settings:
    base = settings_for(org, kafka)
    return base.model_copy(
        update={
            "reverse_mappings": ReverseMappings(invoice_records=invoice_records or {}),
            "kafka": base.kafka.model_copy(update={"topic_prefix": prefix, "partitions": 2}),
            "stripe": StripeSettings(
                api_key=SecretStr(emulator.api_key), api_base=emulator.api_base, timeout_s=5
            ),
            "stripe_events": StripeEventsSettings(
                enabled=True,
                endpoint_secret=SecretStr(secret),
                port=port,
                catch_up_interval_s=1.0,
                initial_lookback_s=3600,
            ),
            "bridge": base.bridge.model_copy(update={"checkpoint_interval_s": 0.2}),
        }
    )


@contextmanager
def reverse_sync(
    org: OrgSimulator,
    emulator: StripeEmulator,
    kafka: str,
    prefix: str,
    client_config: dict[str, Any],
    group: str = "writeback",
    invoice_records: dict[str, str] | None = None,
) -> Iterator[tuple[ReverseSync, WritebackService]]:
    client = stripe.StripeClient(
        emulator.api_key, base_addresses={"api": emulator.api_base}, max_network_retries=0
    )
    port = free_port()
    endpoint = client.v1.webhook_endpoints.create(
        params={"url": f"http://127.0.0.1:{port}/stripe/webhooks", "enabled_events": ["*"]}
    )
    assert endpoint.secret is not None
    settings = reverse_settings(
        org, emulator, kafka, prefix, endpoint.secret, port, invoice_records
    )
    ensure_topics(kafka, Topics(prefix).all_topics(), partitions=2)
    harness = ReverseSync(org, emulator, kafka, prefix, client, settings, endpoint.id)
    writeback = WritebackService(
        settings,
        bootstrap_servers=kafka,
        group_id=f"{prefix}-{group}",
        client_config=client_config,
        registry=CollectorRegistry(),
    ).start()
    try:
        yield harness, writeback
    finally:
        for source in list(harness.sources):
            harness.stop_source(source)
        writeback.stop()
