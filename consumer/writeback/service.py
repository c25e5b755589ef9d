"""``WritebackService``: the writeback consumer group wired up, for the CLI, ``run`` and the demo.

It owns one Salesforce login, the consumer engine (on its own thread) and the
retention worker. ``start()`` returns once both run; ``stop()`` asks the engine
to finish in-flight batches, commit and leave the group, then stops retention.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Final

from prometheus_client import CollectorRegistry

from consumer.dead_letter_envelope import envelope_headers
from consumer.engine import ConsumerEngine, DeadLetters, Dependency, Message
from consumer.engine_settings import engine_settings, kafka_clients
from consumer.writeback.batch_plan import LinkOptions
from consumer.writeback.billing_service import BillingWriteback
from consumer.writeback.handler import WritebackHandler
from consumer.writeback.metrics import writeback_metrics
from consumer.writeback.retention import Retention, RetentionWorker
from consumer.writeback.sobject_collections import SObjectCollections
from consumer.writeback.sync_record import SYNC_RECORD
from cpqsync.kafka.topics import Topics
from cpqsync.salesforce.auth import SalesforceAuth
from cpqsync.salesforce.rest import SalesforceRest
from cpqsync.settings import Settings
from schemas.codec import Codec, SchemaDecodeError
from schemas.models import SyncResult

log = logging.getLogger(__name__)

GROUP_ID: Final = "cpqsync-writeback"
_TEST_KEY_PREFIXES = ("sk_test_", "rk_test_")


class WritebackService:
    """Consume ``cpqsync.sync.results`` and write it to Salesforce until stopped."""

    def __init__(
        self,
        settings: Settings,
        *,
        bootstrap_servers: str | None = None,
        group_id: str = GROUP_ID,
        results_topic: str | None = None,
        dead_letter_topic: str | None = None,
        rest: SalesforceRest | None = None,
        client_config: dict[str, Any] | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        topics = Topics(settings.kafka.topic_prefix)
        self.results_topic = results_topic or topics.sync_results
        self.dead_letter_topic = dead_letter_topic or topics.dlq
        self.group_id = group_id
        self.metrics = writeback_metrics(registry)
        self.rest = rest or SalesforceRest(
            SalesforceAuth(settings.salesforce, pool_size=settings.writeback.workers)
        )
        self.collections = SObjectCollections(self.rest, self.metrics)
        wb = settings.writeback
        self.retention = Retention(self.collections, settings.sync.record_retention, self.metrics)
        self._retention_worker = RetentionWorker(
            self.retention, wb.retention_interval_s, wb.retention_after_created
        )
        api_key = settings.stripe.api_key
        links = LinkOptions(
            dashboard_base=settings.stripe.dashboard_base,
            test_mode=bool(api_key and api_key.get_secret_value().startswith(_TEST_KEY_PREFIXES)),
        )
        self.handler = WritebackHandler(
            self.collections,
            self.metrics,
            DeadLetters(
                self.dead_letter_topic,
                group_id,
                settings.consumer.dlq_max_consecutive,
                envelope=envelope_headers,
            ),
            batch_size=wb.batch_size,
            links=links,
            on_created=self._retention_worker.records_created,
        )
        codec = Codec.from_settings(settings.kafka)

        def decode(message: Message[bytes | None]) -> SyncResult:
            try:
                return codec.decode_as(message.value, message.topic, SyncResult)
            except SchemaDecodeError as exc:
                if exc.retryable:  # a registry outage is not bad data: stop, do not dead-letter
                    raise RuntimeError(f"cannot decode sync results: {exc}") from exc
                raise

        self.engine: ConsumerEngine[SyncResult] = ConsumerEngine(
            topics=[self.results_topic],
            group_id=group_id,
            handler=self.handler,
            decode=decode,
            kafka=kafka_clients(settings.kafka, settings.consumer, bootstrap_servers),
            settings=engine_settings(settings.consumer, workers=wb.workers),
            client_config=client_config,
            decode_errors=(SchemaDecodeError,),
            dead_letter_topic=self.dead_letter_topic,
            dead_letter_envelope=envelope_headers,
            registry=registry,
            dependencies=[Dependency("salesforce", "salesforce.login_url", self._probe_salesforce)],
        )
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None
        # Billing state from Stripe's events (B1): an engine of its own, when configured.
        self.billing = (
            BillingWriteback(
                settings,
                self.collections,
                bootstrap_servers=bootstrap_servers,
                group_id=f"{group_id}-billing",
                client_config=client_config,
                registry=registry,
                on_failed=self.engine.request_stop,
            )
            if settings.stripe_events.enabled
            else None
        )

    def start(self) -> WritebackService:
        """Log in to Salesforce (raising ``SalesforceAuthError``), then consume and retain."""
        if self._thread is not None:
            raise RuntimeError("the writeback service is already started")
        # Log in now: wrong credentials should stop the role, not dead-letter every result.
        self.rest.auth.session()
        self._thread = threading.Thread(target=self._run, name="writeback-engine", daemon=True)
        self._thread.start()
        self._retention_worker.start()
        if self.billing is not None:
            self.billing.start()
        return self

    def request_stop(self) -> None:
        """Ask the service to stop; safe from a signal handler."""
        self.engine.request_stop()
        if self.billing is not None:
            self.billing.request_stop()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the engine to end (a stop request or a fatal error); True if it ended."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        if self.billing is not None and not self._thread.is_alive():
            # One engine ending (a stop request or a fatal error) ends the role.
            self.billing.request_stop()
            return self.billing.join(timeout)
        return not self._thread.is_alive()

    def stop(self, timeout: float = 60.0) -> None:
        """Stop consuming, commit what completed, stop retention; re-raise a fatal engine error."""
        self.request_stop()
        ended = self.join(timeout)
        self._retention_worker.stop()
        if not ended:
            raise TimeoutError(f"the writeback engine did not stop within {timeout}s")
        if self.error is not None:
            raise self.error
        if self.billing is not None and self.billing.error is not None:
            raise self.billing.error

    def is_ready(self) -> bool:
        """Joined and running, with Salesforce and Kafka answering (``/readyz``)."""
        billing_ready = self.billing is None or self.billing.is_ready()
        return self.engine.is_ready() and billing_ready

    def _probe_salesforce(self) -> None:
        """One cheap query of the object the writeback writes; raises while the org cannot."""
        self.rest.call(lambda sf: sf.query(f"SELECT Id FROM {SYNC_RECORD} LIMIT 1"))  # noqa: S608

    def _run(self) -> None:
        try:
            self.engine.run()
        except BaseException as exc:  # noqa: BLE001 - kept and re-raised by stop()
            self.error = exc
            log.error("writeback consumer stopped: %s", exc)
