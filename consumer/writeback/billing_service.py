"""The billing writeback's engine: ``cpqsync.stripe.events`` -> Order and Account fields (B1).

A consumer group of its own (``cpqsync-writeback-billing``) beside the results engine in
the writeback role, so a Stripe outage slows billing state and never Sync Records. Started
by ``WritebackService`` when ``stripe_events.enabled`` is set.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Final

from prometheus_client import CollectorRegistry

from consumer.dead_letter_envelope import envelope_headers
from consumer.engine import ConsumerEngine, DeadLetters, Dependency, Message, Pacer
from consumer.engine_settings import engine_settings, kafka_clients
from consumer.sync.root_asks import RootWorkOutputs
from consumer.writeback.billing_handler import BillingStateHandler
from consumer.writeback.billing_reads import BillingReader
from consumer.writeback.sobject_collections import SObjectCollections
from cpqsync.kafka.topics import Topics
from cpqsync.settings import Settings
from cpqsync.stripe_client import build_stripe_client
from schemas.codec import Codec, SchemaDecodeError
from schemas.models import StripeEvent

log = logging.getLogger(__name__)

BILLING_GROUP_ID: Final = "cpqsync-writeback-billing"
# Billing state should reach the Order within seconds, and one customer's events run one
# after another: each waits for a fetch. The embedded broker (Tansu) holds a fetch for the
# whole fetch.wait.max.ms (librdkafka: 500 ms), a real broker answers as data arrives.
# ``kafka.client_config`` overrides it (as for the sync consumer).
FETCH_DEFAULTS: Final[dict[str, Any]] = {"fetch.wait.max.ms": 50}


class BillingWriteback:
    def __init__(
        self,
        settings: Settings,
        collections: SObjectCollections,
        *,
        bootstrap_servers: str | None = None,
        group_id: str = BILLING_GROUP_ID,
        client_config: dict[str, Any] | None = None,
        registry: CollectorRegistry | None = None,
        on_failed: Callable[[], None] = lambda: None,
    ) -> None:
        self._on_failed = on_failed
        topics = Topics.for_kafka(settings.kafka)  # sync.roots may have a name of its own
        self.topic = topics.stripe_events
        codec = Codec.from_settings(settings.kafka)
        reader = BillingReader(
            build_stripe_client(settings.stripe),
            Pacer("stripe-billing-reads", _billing_read_rate(settings), registry=registry),
        )
        self.handler = BillingStateHandler(
            reader,
            collections,
            settings.reverse_mappings,
            DeadLetters(
                topics.dlq,
                group_id,
                settings.consumer.dlq_max_consecutive,
                envelope=envelope_headers,
            ),
            sandbox=settings.salesforce.is_sandbox,
            registry=registry,
            order_syncs=RootWorkOutputs(codec, topics.sync_roots),
        )

        def decode(message: Message[bytes | None]) -> StripeEvent:
            try:
                return codec.decode_as(message.value, message.topic, StripeEvent)
            except SchemaDecodeError as exc:
                if exc.retryable:
                    raise RuntimeError(f"cannot decode Stripe events: {exc}") from exc
                raise

        self.engine: ConsumerEngine[StripeEvent] = ConsumerEngine(
            topics=[self.topic],
            group_id=group_id,
            handler=self.handler,
            decode=decode,
            kafka=kafka_clients(settings.kafka, settings.consumer, bootstrap_servers),
            settings=engine_settings(settings.consumer, workers=settings.writeback.workers),
            client_config={
                **{
                    k: v for k, v in FETCH_DEFAULTS.items() if k not in settings.kafka.client_config
                },
                **(client_config or {}),
            },
            decode_errors=(SchemaDecodeError,),
            dead_letter_topic=topics.dlq,
            dead_letter_envelope=envelope_headers,
            registry=registry,
            # Outages of either side hold the events (DependencyDown) until a probe answers.
            dependencies=[
                Dependency("stripe", "stripe.api_key", reader.probe),
                Dependency(
                    "salesforce",
                    "salesforce.login_url",
                    lambda: collections.query("SELECT Id FROM Order LIMIT 1"),
                ),
            ],
        )
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="billing-engine", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        self.engine.request_stop()

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def is_ready(self) -> bool:
        return self.engine.is_ready()

    def _run(self) -> None:
        try:
            self.engine.run()
        except BaseException as exc:  # noqa: BLE001 - kept and re-raised by the service's stop()
            self.error = exc
            log.error("billing writeback consumer stopped: %s", exc)
            self._on_failed()


# The reverse sync's reads take a tenth of the account's request budget (its events are few
# next to the forward sync's writes, which keep the rest); a fixed per-process rate wins.
BILLING_SHARE_OF_BUDGET = 0.1


def _billing_read_rate(settings: Settings) -> float:
    fixed = settings.stripe.requests_per_second
    return fixed if fixed is not None else settings.stripe.account_budget * BILLING_SHARE_OF_BUDGET
