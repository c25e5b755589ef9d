"""``SyncService``: the sync role wired from settings (``cpqsync sync``, ``cpqsync run``, demo).

One process runs the sync's two stages, each a consumer engine in a group of its own:

- the trigger stage (group ``cpqsync-sync``) consumes every change topic plus the
  manual-request topic, and emits root work keyed by billing root to the repartition topic
  (``cpqsync.sync.roots``);
- the root stage (group ``cpqsync-sync-roots``) consumes the repartition topic, and
  hydrates, plans, applies and emits the SyncResults.

Two groups rather than one: each stage commits on its own terms (the trigger stage often, as
its outputs are the root stage's input), keeps its own lag, and can be replayed on its own.
Every member of the sync role joins both, so the group's members share both topics. Both
engines produce their outputs and have them acknowledged before committing their offsets. The
live-sync switch on the control topic is followed once for both.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import stripe
from prometheus_client import CollectorRegistry

from consumer.dead_letter_envelope import envelope_headers
from consumer.engine import BudgetShare, ConsumerEngine, Dependency, Message, Pacer
from consumer.engine.demand import DemandBoard
from consumer.engine_settings import engine_settings, kafka_clients
from consumer.sync.apply import PlanApplier
from consumer.sync.billing_roots import BillingRoots
from consumer.sync.concurrency import SyncConcurrency
from consumer.sync.dashboard import DashboardLinks
from consumer.sync.failures import SalesforceDown
from consumer.sync.handler import SyncHandler
from consumer.sync.hydration import Hydrator
from consumer.sync.live_switch import LiveState, LiveSwitch
from consumer.sync.repartition import TriggerStage
from consumer.sync.results import ResultBuilder, ResultOutputs
from consumer.sync.root_asks import RootWorkOutputs
from consumer.sync.root_locks import RootLocks
from consumer.sync.roots import RootResolver
from consumer.sync.salesforce_reads import SalesforceReader
from consumer.sync.stripe_calls import StripeCaller
from consumer.sync.stripe_lookup import StripeLookup
from consumer.sync.sync_metrics import sync_metrics
from consumer.sync.triggers import SyncInput
from cpqsync.kafka.clients import base_config, producer_config
from cpqsync.kafka.topics import Topics, ensure_topics
from cpqsync.observability.logging import register_secrets
from cpqsync.salesforce.auth import SalesforceAuth
from cpqsync.salesforce.rest import SalesforceRest
from cpqsync.settings import KafkaSettings, Settings, StripeSettings
from cpqsync.stripe_client import build_stripe_client
from schemas.codec import Codec
from schemas.errors import DecodeFailure, SchemaDecodeError
from schemas.models import ChangeEvent, RootWork, SyncRequest

DEFAULT_GROUP = "cpqsync-sync"
# The trigger stage's outputs (root work) are produced when it commits; committing every few
# milliseconds keeps the repartition hop short (commits are asynchronous, the produce is
# acknowledged first).
TRIGGER_COMMIT_INTERVAL_MS = 10
# The root stage's outputs (the SyncResults Salesforce is told, and the asks of other roots)
# are produced when it commits too: at ``consumer.commit_interval_ms`` (1 s), an order's result
# waited half a second on average after its last Stripe answer, and a customer's ask as long
# before its Account's root could start. A tenth of a second bounds that wait; commits are
# asynchronous, the produce is acknowledged first.
ROOT_COMMIT_INTERVAL_MS = 100
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
    billing_roots: BillingRoots
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


def demand_board(
    kafka: KafkaSettings,
    bootstrap: str,
    topic: str,
    share: BudgetShare,
    engine: ConsumerEngine[Any],
) -> DemandBoard:
    """Tells the group which of ``engine``'s partitions have work, and sizes ``share`` by
    the group's reports: partitions that ran dry give their part of the budget to those
    that have not (``start`` it once ``engine`` runs)."""
    return DemandBoard(
        topic=topic,
        group=engine.group_id,
        producer_config=producer_config(kafka, bootstrap),
        consumer_config=base_config(kafka, bootstrap),
        local=lambda: (set(engine.assignment), engine.partitions_with_work),
        on_demand=share.on_demand,
    )


def build_parts(
    settings: Settings,
    *,
    rest: SalesforceRest | None = None,
    stripe_client: stripe.StripeClient | None = None,
    registry: CollectorRegistry | None = None,
) -> SyncParts:
    register_secrets([settings.stripe.api_key, settings.salesforce.client_secret])
    concurrency = SyncConcurrency.from_settings(settings.consumer)
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
        billing_roots=BillingRoots(reader),
        caller=caller,
        lookup=StripeLookup(
            caller,
            sandbox=settings.salesforce.is_sandbox,
            parallelism=concurrency.lookups_side_by_side,
        ),
        applier=PlanApplier(caller, parallelism=concurrency.operations_side_by_side),
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


def root_work_decoder(codec: Codec) -> Any:
    """Message bytes -> RootWork; anything else is a dead letter."""

    def decode(message: Message[bytes | None]) -> RootWork:
        return codec.decode_as(message.value, message.topic, RootWork)

    return decode


def roots_group(group_id: str) -> str:
    """The root stage's group, named after the trigger stage's."""
    return f"{group_id}-roots"


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
        locks: RootLocks | None = None,
    ) -> None:
        """``batch_size`` caps the root work one root-stage call takes (1: one at a time);
        ``locks`` are the root stage's in-process root locks (tests observe them)."""
        bootstrap = bootstrap_servers or settings.kafka.bootstrap_servers
        if not bootstrap:
            raise ValueError("the sync needs kafka.bootstrap_servers (or bootstrap_servers=...)")
        self.settings = settings
        self.bootstrap = bootstrap
        self.topics = Topics.for_kafka(settings.kafka)
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
        self._locks = locks
        self.live: LiveState | None = live_state
        self._switch: LiveSwitch | None = None
        self._engines: list[ConsumerEngine[Any]] = []
        self._handler: SyncHandler | None = None
        self._threads: list[threading.Thread] = []
        self._board: DemandBoard | None = None
        self._error: BaseException | None = None

    @property
    def stripe_requests(self) -> int:
        """Stripe requests sent so far (lookups and plan operations)."""
        return self.parts.caller.requests

    def _prepare(self) -> list[ConsumerEngine[Any]]:
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
        metrics = sync_metrics(self.registry)
        concurrency = SyncConcurrency.from_settings(self.settings.consumer)
        builder = ResultBuilder(DashboardLinks.from_settings(self.settings.stripe))
        results = ResultOutputs(codec, self.topics.sync_results, metrics)
        work = RootWorkOutputs(codec, self.topics.sync_roots)
        triggers = TriggerStage(
            resolver=parts.resolver,
            billing_roots=parts.billing_roots,
            live=self.live,
            work=work,
            builder=builder,
            results=results,
            metrics=metrics,
        )
        handler = SyncHandler(
            settings=self.settings,
            hydrator=parts.hydrator,
            lookup=parts.lookup,
            applier=parts.applier,
            builder=builder,
            live=self.live,
            results=results,
            work=work,
            metrics=metrics,
            instance_url=self._instance_url,
            root_parallelism=concurrency.roots_side_by_side,
            locks=self._locks,
        )
        if self._batch_size is not None:
            handler.max_batch_size = self._batch_size
        self._handler = handler
        consumer = self.settings.consumer
        trigger_settings = engine_settings(
            consumer,
            workers=concurrency.trigger_workers,
            commit_interval_ms=min(TRIGGER_COMMIT_INTERVAL_MS, consumer.commit_interval_ms),
        )
        common: dict[str, Any] = {
            "kafka": kafka_clients(kafka, consumer, self.bootstrap),
            "client_config": self._client_config,
            "decode_errors": (SchemaDecodeError,),
            "dead_letter_topic": self.topics.dlq,
            "dead_letter_envelope": envelope_headers,
            "registry": self.registry,
        }
        salesforce = Dependency("salesforce", SalesforceDown.setting, parts.reader.probe)
        # The root stage calls Stripe, so its partitions divide the account's budget.
        roots_topics = [self.topics.sync_roots]
        share = budget_share(self.settings.stripe, parts.caller.pacer, roots_topics)
        self._engines = [
            ConsumerEngine(
                topics=[*self.topics.change_topics, self.topics.sync_requests],
                group_id=self.group_id,
                handler=triggers,
                decode=decoder(codec),
                settings=trigger_settings,
                dependencies=[salesforce],
                **common,
            ),
            ConsumerEngine(
                topics=roots_topics,
                group_id=roots_group(self.group_id),
                handler=handler,
                decode=root_work_decoder(codec),
                settings=engine_settings(
                    consumer,
                    workers=concurrency.root_workers,
                    commit_interval_ms=min(ROOT_COMMIT_INTERVAL_MS, consumer.commit_interval_ms),
                ),
                on_assignment=share.on_assignment if share is not None else None,
                dependencies=[
                    Dependency("stripe", STRIPE_SETTINGS, parts.caller.probe),
                    salesforce,
                ],
                **common,
            ),
        ]
        handler.follow_ownership(self._engines[1].owns)
        if share is not None:
            self._board = demand_board(
                kafka, self.bootstrap, self.topics.sync_demand, share, self._engines[1]
            )
        return self._engines

    def _instance_url(self) -> str | None:
        try:
            return self.parts.reader.instance_url
        except Exception:  # noqa: BLE001 - a link in metadata is optional; hydration reports
            return None

    def run(self) -> None:
        """Consume until ``stop`` (or a fatal engine error, which is raised)."""
        self.start()
        try:
            # Short joins: a signal handler (request_stop) runs between them.
            while any(thread.is_alive() for thread in self._threads):
                for thread in self._threads:
                    thread.join(0.5)
        finally:
            self.stop()

    def _close_pools(self) -> None:
        if self._handler is not None:
            self._handler.close()
        self.parts.applier.close()
        self.parts.lookup.close()

    def start(self) -> SyncService:
        engines = self._prepare()

        def run(engine: ConsumerEngine[Any]) -> None:
            try:
                engine.run()
            except BaseException as exc:
                self._error = self._error or exc
                log.exception("the sync consumer %s stopped", engine.group_id)
            finally:
                # One stage without the other would only pile up work (or wait for it): a
                # stage that ends takes the other with it.
                for other in engines:
                    other.request_stop()

        self._threads = [
            threading.Thread(target=run, args=(engine,), name=engine.group_id, daemon=True)
            for engine in engines
        ]
        for thread in self._threads:
            thread.start()
        if self._board is not None:
            self._board.start()
        return self

    def request_stop(self) -> None:
        """Ask a running service to stop gracefully; safe from a signal handler."""
        for engine in self._engines:
            engine.request_stop()

    def ready(self) -> bool:
        """Both stages joined and running, with Stripe, Salesforce and Kafka answering
        (``/readyz``)."""
        return bool(self._engines) and all(engine.is_ready() for engine in self._engines)

    @property
    def engines(self) -> list[ConsumerEngine[Any]]:
        """The trigger stage's engine, then the root stage's (empty before ``start``)."""
        return list(self._engines)

    def stop(self, timeout: float = 60.0) -> None:
        self.request_stop()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads = []
        if self._board is not None:
            self._board.stop()
            self._board = None
        if self._switch is not None:
            self._switch.stop()
        self._close_pools()
        if self._error is not None:
            error, self._error = self._error, None
            raise error
