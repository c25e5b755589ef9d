"""``SyncService``: the sync role wired from settings (``cpqsync sync``, ``cpqsync run``, demo).

Consumes every change topic plus the manual-request topic as consumer group ``cpqsync-sync``,
follows the live-sync switch on the control topic, and runs ``SyncHandler`` on the consumer
engine, which produces the SyncResults and commits offsets only after they are acknowledged.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import stripe
from prometheus_client import CollectorRegistry

from consumer.engine import BudgetShare, ConsumerEngine, Dependency, Message, Pacer
from consumer.sync.apply import PlanApplier
from consumer.sync.dashboard import DashboardLinks
from consumer.sync.failures import SalesforceDown
from consumer.sync.handler import SyncHandler
from consumer.sync.hydration import Hydrator
from consumer.sync.live_switch import LiveState, LiveSwitch
from consumer.sync.results import ResultBuilder
from consumer.sync.roots import RootResolver
from consumer.sync.salesforce_reads import SalesforceReader
from consumer.sync.stripe_calls import StripeCaller, build_stripe_client
from consumer.sync.stripe_lookup import StripeLookup
from consumer.sync.sync_metrics import sync_metrics
from consumer.sync.triggers import SyncInput
from cpqsync.kafka.topics import Topics, ensure_topics
from cpqsync.observability.logging import register_secrets
from cpqsync.salesforce.auth import SalesforceAuth
from cpqsync.salesforce.rest import SalesforceRest
from cpqsync.settings import Settings, StripeSettings
from schemas.codec import Codec
from schemas.errors import DecodeFailure, SchemaDecodeError
from schemas.models import ChangeEvent, SyncRequest

DEFAULT_GROUP = "cpqsync-sync"
# End-to-end latency is the sync's target (commit -> schedule in under 2 s at p99). A broker
# answers a fetch once fetch.min.bytes arrived or after fetch.wait.max.ms; the embedded broker
# (Tansu) holds it for the wait, so librdkafka's 500 ms default put 160 ms (p50) to 300 ms
# (p99) between the bridge's produce and the handler. A real broker answers as data arrives,
# where this only bounds how often an idle consumer asks. ``kafka.client_config`` overrides it.
CONSUMER_DEFAULTS: dict[str, Any] = {"fetch.wait.max.ms": 50}
log = logging.getLogger(__name__)
STRIPE_SETTINGS = "stripe.api_key and stripe.api_base"


@dataclass
class SyncParts:
    """The pieces of the sync that ``cpqsync plan`` and tests reuse without a consumer."""

    reader: SalesforceReader
    hydrator: Hydrator
    resolver: RootResolver
    caller: StripeCaller
    lookup: StripeLookup
    applier: PlanApplier


def stripe_pacer(stripe: StripeSettings, registry: CollectorRegistry | None = None) -> Pacer:
    """The process's one Stripe pacer, at the account's whole budget until a ``BudgetShare``
    sizes it to this member's share (a process that consumes nothing, ``cpqsync plan``, has
    the account to itself), or at ``stripe.requests_per_second`` if that is set."""
    rate = stripe.requests_per_second or stripe.account_budget
    # A burst of a whole second's budget would trip Stripe's one-second window on its own;
    # a twentieth of a second's worth keeps the requests evenly spread, and leaves room for
    # the few requests a pause of the process delays into the next second (``MAX_WAITING``):
    # with a tenth, and eight callers waiting, the 2,000-order bench sent up to 106 in a
    # second at a 90/s pace and met 57-71 429s; now none. After a 429 the rate halves
    # and is back in about a second: each member paces at its share of the limit, so a 429
    # is mostly requests bunching on the way (jitter), not a sustained overload, and the
    # engine's default (five seconds back) cost a third of the sync's throughput. The pacer
    # never goes above its ceiling either way. Burst and recovery scale with the share.
    return Pacer(
        "stripe",
        rate,
        capacity=max(1.0, rate / 20),
        recovery_per_s=rate / 2,
        registry=registry,
    )


def budget_share(stripe: StripeSettings, pacer: Pacer, topics: list[str]) -> BudgetShare | None:
    """Sizes ``pacer`` to this member's share of the account budget by its partitions of
    ``topics`` (those of the consumer that calls Stripe); None where a fixed
    ``stripe.requests_per_second`` overrides sharing."""
    if stripe.requests_per_second is not None:
        log.warning(
            "stripe.requests_per_second (%.1f) is deprecated: this process paces at that rate "
            "whatever the rest of its group does, so N members must divide the account's limit "
            "by hand. Set stripe.account_requests_per_second once instead (or leave both unset "
            "for 90/s with a live key, 22/s otherwise); members then share it by partitions.",
            stripe.requests_per_second,
        )
        return None
    return BudgetShare(pacer, stripe.account_budget, topics)


def build_parts(
    settings: Settings,
    *,
    rest: SalesforceRest | None = None,
    stripe_client: stripe.StripeClient | None = None,
    registry: CollectorRegistry | None = None,
) -> SyncParts:
    register_secrets([settings.stripe.api_key, settings.salesforce.client_secret])
    rest = rest or SalesforceRest(
        SalesforceAuth(settings.salesforce, pool_size=settings.consumer.workers)
    )
    reader = SalesforceReader(rest)
    pacer = stripe_pacer(settings.stripe, registry)
    caller = StripeCaller(
        stripe_client or build_stripe_client(settings.stripe, pool_size=settings.consumer.workers),
        pacer,
        network_retries=settings.stripe.max_network_retries,
    )
    return SyncParts(
        reader=reader,
        hydrator=Hydrator(reader, settings),
        resolver=RootResolver(reader, settings.sync.start_date),
        caller=caller,
        lookup=StripeLookup(caller, sandbox=settings.salesforce.is_sandbox),
        applier=PlanApplier(caller),
    )


def decoder(codec: Codec) -> Any:
    """Message bytes -> ChangeEvent | SyncRequest; anything else is a dead letter."""

    def decode(message: Message[bytes | None]) -> SyncInput:
        record = codec.decode(message.value, message.topic)
        if not isinstance(record, ChangeEvent | SyncRequest):
            raise SchemaDecodeError(
                DecodeFailure.UNKNOWN_SCHEMA,
                f"expected a ChangeEvent or SyncRequest, found a {record.avro_name}",
                message.topic,
            )
        return record

    return decode


class SyncService:
    """Run the sync role in a background thread (``start``/``stop``) or in the caller (``run``)."""

    def __init__(
        self,
        settings: Settings,
        *,
        bootstrap_servers: str | None = None,
        group_id: str = DEFAULT_GROUP,
        registry: CollectorRegistry | None = None,
        client_config: dict[str, Any] | None = None,
        rest: SalesforceRest | None = None,
        stripe_client: stripe.StripeClient | None = None,
        live_state: LiveState | None = None,
        batch_size: int | None = None,
    ) -> None:
        """``batch_size`` caps the messages one handler call takes (1: one at a time)."""
        bootstrap = bootstrap_servers or settings.kafka.bootstrap_servers
        if not bootstrap:
            raise ValueError("the sync needs kafka.bootstrap_servers (or bootstrap_servers=...)")
        self.settings = settings
        self.bootstrap = bootstrap
        self.topics = Topics(settings.kafka.topic_prefix)
        self.group_id = group_id
        self.registry = registry
        defaults = {
            key: value
            for key, value in CONSUMER_DEFAULTS.items()
            if key not in settings.kafka.client_config
        }
        self._client_config = {**defaults, **(client_config or {})}
        self.parts = build_parts(
            settings, rest=rest, stripe_client=stripe_client, registry=registry
        )
        self._given_live = live_state
        self._batch_size = batch_size
        self.live: LiveState | None = live_state
        self._switch: LiveSwitch | None = None
        self._engine: ConsumerEngine[SyncInput] | None = None
        self._handler: SyncHandler | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def stripe_requests(self) -> int:
        """Stripe requests sent so far (lookups and plan operations)."""
        return self.parts.caller.requests

    def _prepare(self) -> ConsumerEngine[SyncInput]:
        kafka = self.settings.kafka
        ensure_topics(
            self.bootstrap,
            self.topics.all_topics(),
            partitions=kafka.partitions,
            replication_factor=kafka.replication_factor,
        )
        if self._given_live is None:
            self._switch = LiveSwitch(
                kafka, self.bootstrap, self.topics.control, default=self.settings.sync.live
            ).start()
            self.live = self._switch
        assert self.live is not None
        codec = Codec.from_settings(kafka)
        parts = self.parts
        handler = SyncHandler(
            settings=self.settings,
            resolver=parts.resolver,
            hydrator=parts.hydrator,
            lookup=parts.lookup,
            applier=parts.applier,
            builder=ResultBuilder(DashboardLinks.from_settings(self.settings.stripe)),
            live=self.live,
            codec=codec,
            results_topic=self.topics.sync_results,
            metrics=sync_metrics(self.registry),
            instance_url=self._instance_url,
        )
        if self._batch_size is not None:
            handler.max_batch_size = self._batch_size
        self._handler = handler
        topics = [*self.topics.change_topics, self.topics.sync_requests]
        # This consumer calls Stripe, so its partitions divide the account's budget.
        share = budget_share(self.settings.stripe, parts.caller.pacer, topics)
        self._engine = ConsumerEngine(
            topics=topics,
            group_id=self.group_id,
            handler=handler,
            decode=decoder(codec),
            kafka=kafka,
            settings=self.settings.consumer,
            bootstrap_servers=self.bootstrap,
            client_config=self._client_config,
            decode_errors=(SchemaDecodeError,),
            dead_letter_topic=self.topics.dlq,
            registry=self.registry,
            on_assignment=share.on_assignment if share is not None else None,
            dependencies=[
                Dependency("stripe", STRIPE_SETTINGS, parts.caller.probe),
                Dependency("salesforce", SalesforceDown.setting, parts.reader.probe),
            ],
        )
        return self._engine

    def _instance_url(self) -> str | None:
        try:
            return self.parts.reader.instance_url
        except Exception:  # noqa: BLE001 - a link in metadata is optional; hydration reports
            return None

    def run(self) -> None:
        """Consume until ``stop`` (or a fatal engine error, which is raised)."""
        engine = self._prepare()
        try:
            engine.run()
        finally:
            if self._switch is not None:
                self._switch.stop()
            self._close_pools()

    def _close_pools(self) -> None:
        if self._handler is not None:
            self._handler.close()
        self.parts.applier.close()
        self.parts.lookup.close()

    def start(self) -> SyncService:
        engine = self._prepare()

        def run() -> None:
            try:
                engine.run()
            except BaseException as exc:
                self._error = exc
                log.exception("the sync consumer stopped")

        self._thread = threading.Thread(target=run, name="cpqsync-sync", daemon=True)
        self._thread.start()
        return self

    def request_stop(self) -> None:
        """Ask a running service to stop gracefully; safe from a signal handler."""
        if self._engine is not None:
            self._engine.request_stop()

    def ready(self) -> bool:
        """Joined and running, with Stripe, Salesforce and Kafka answering (``/readyz``)."""
        return self._engine is not None and self._engine.is_ready()

    @property
    def engine(self) -> ConsumerEngine[SyncInput] | None:
        return self._engine

    def stop(self, timeout: float = 60.0) -> None:
        if self._engine is not None:
            self._engine.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._switch is not None:
            self._switch.stop()
        self._close_pools()
        if self._error is not None:
            error, self._error = self._error, None
            raise error
