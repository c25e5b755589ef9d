"""The billing writeback's batch handler: Stripe events in, Order and Account fields out (B1).

Per batch: each event names what to refresh (``consumer.billing.targets``); every named
Stripe object is read once, as it is *now*; each Order and Account concerned gets the
values its ``reverse_mappings`` take from those objects; fields that already hold the value
are dropped (one query per object type) and the rest go in one collection update. Writing
current state rather than the event's snapshot is the ordering guard: events arrive out of
order, late (catch-up) or again (a replay), and every one of them converges on the newest
state, while a replayed topic changes nothing.

One event is also a trigger for the forward sync: a subscription a schedule with
``end_behavior: release`` started (``customer.subscription.created``). An evergreen order
(A4) names its subscription in ``Order.Stripe_ID__c`` once Stripe starts it, at its start
date, when nothing changes in Salesforce; so the handler asks the order's root for a sync
(root work on the repartition topic, like any trigger's: live sync off skips it, S4), which
finds the subscription and reports it. Only the sync decides what ``Stripe_ID__c`` says (an
auto-renewing schedule, A3, also releases: its sync reports the schedule as before).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.registry import REGISTRY

from consumer.billing.billing_view import field_values
from consumer.billing.targets import Refresh, invoice_subscription, refresh_for
from consumer.engine import (
    BatchHandler,
    DeadLetters,
    Failure,
    Message,
    Outcome,
    OutputMessage,
    Processed,
    Retry,
)
from consumer.engine.outcomes import outcome_from_exception
from consumer.sync.planning.identity import metadata_key
from consumer.sync.root_asks import RootWorkOutputs
from consumer.writeback import billing_invoice_records
from consumer.writeback.batch_plan import Write
from consumer.writeback.billing_freshness import Freshness
from consumer.writeback.billing_reads import BillingReader
from consumer.writeback.current_values import fetch_current, without_unchanged
from consumer.writeback.handler import call_outcome
from consumer.writeback.record_errors import RecordError, RecordsRejected, record_errors
from consumer.writeback.sobject_collections import SObjectCollections
from cpqsync.mapping.reverse_mappings import INVOICE_RECORD, ReverseMappings
from schemas.models import RootWork, StripeEvent, utc_now

log = logging.getLogger(__name__)

READS_IN_FLIGHT = 8
# The event of a subscription a schedule started (A4: its order then names it, after a sync).
SUBSCRIPTION_STARTED = "customer.subscription.created"
_GONE = frozenset({"ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY"})


class BillingMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = Counter(
            "cpqsync_billing_events",
            "Stripe events handled by the billing writeback, by type and outcome (written, "
            "unchanged, fresh: already read since, ignored, unlinked, rejected, dead_lettered).",
            ("type", "outcome"),
            registry=registry,
        )
        self.syncs_asked = Counter(
            "cpqsync_billing_order_syncs_asked",
            "Order syncs the billing writeback asked for: a subscription a releasing schedule "
            "started, which an evergreen order's Stripe_ID__c names after its sync (A4).",
            registry=registry,
        )
        self.fields_written = Counter(
            "cpqsync_billing_records_written",
            "Order and Account records the billing writeback updated, by object and outcome.",
            ("object", "outcome"),
            registry=registry,
        )


@dataclass(frozen=True)
class _Links:
    """What one event's objects are, and the records they belong to."""

    subscription: dict[str, Any] | None
    latest_invoice: dict[str, Any] | None  # the Order's: the subscription's latest, or its own
    event_invoice: dict[str, Any] | None
    customer: dict[str, Any] | None
    order_id: str | None
    account_id: str | None


@dataclass
class _Fetched:
    subscriptions: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    invoices: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    customers: dict[str, dict[str, Any] | None] = field(default_factory=dict)


class BillingStateHandler(BatchHandler[StripeEvent]):
    """Thread-safe: each batch reads and writes on its own; the collaborators are thread-safe."""

    max_batch_size = 100

    def __init__(
        self,
        reader: BillingReader,
        collections: SObjectCollections,
        mappings: ReverseMappings,
        dead_letters: DeadLetters,
        *,
        sandbox: bool = False,
        registry: CollectorRegistry | None = None,
        order_syncs: RootWorkOutputs | None = None,
    ) -> None:
        """``order_syncs``: where to ask for an order's sync when its subscription starts
        (None: never ask)."""
        self._reader = reader
        self._order_syncs = order_syncs
        self._collections = collections
        self._order_paths = mappings.paths("Order")
        self._account_paths = mappings.paths("Account")
        self._invoice_paths = mappings.paths(INVOICE_RECORD)
        self._dead_letters = dead_letters
        self._order_key = metadata_key("salesforce_order_id", sandbox=sandbox)
        self._account_key = metadata_key("salesforce_account_id", sandbox=sandbox)
        self.metrics = BillingMetrics(registry or REGISTRY)
        self.freshness = Freshness()
        # Stripe reads of one batch run side by side; the engine's workers bound batches.
        self._pool = ThreadPoolExecutor(max_workers=READS_IN_FLIGHT, thread_name_prefix="billing")

    def handle_batch(self, batch: Sequence[Message[StripeEvent]]) -> Sequence[Outcome]:
        read_at = self.freshness.clock()
        wanted = [refresh_for(message.value.event()) for message in batch]
        fresh = {
            index
            for index, (refresh, message) in enumerate(zip(wanted, batch, strict=True))
            if refresh is not None
            and message.value.type != SUBSCRIPTION_STARTED  # read: it may ask for a sync
            and self.freshness.covers(refresh, message.value.created.timestamp())
        }
        refreshes = [None if index in fresh else r for index, r in enumerate(wanted)]
        try:
            fetched = self._fetch(refreshes)
        except Exception as exc:  # noqa: BLE001 - classified for every event of the batch
            return [outcome_from_exception(exc)] * len(batch)
        writes: dict[tuple[str, str], Write] = {}
        upserts: dict[tuple[str, str], Write] = {}
        unlinked: set[int] = set()
        for index, refresh in enumerate(refreshes):
            if refresh is None:
                continue
            records = self._records(refresh, fetched)
            if not records:
                unlinked.add(index)
            for object_type, record_id, values in records:
                update = {"attributes": {"type": object_type}, "Id": record_id, **values}
                _merge(writes, object_type, record_id, update, index)
            record = self._invoice_record(refresh, fetched)
            if record is not None:
                _merge(
                    upserts,
                    INVOICE_RECORD,
                    record[billing_invoice_records.STRIPE_ID],
                    record,
                    index,
                )
        rejected: dict[int, list[RecordError]] = defaultdict(list)
        try:
            pending = list(writes.values())
            changed = without_unchanged(pending, fetch_current(self._collections, pending))
            self._write(changed, rejected, self._collections.update)
            records_changed = billing_invoice_records.without_unchanged(
                self._collections, list(upserts.values())
            )
            self._write(records_changed, rejected, self._upsert_invoices)
        except Exception as exc:  # noqa: BLE001 - classified for every event of the batch
            log.warning("billing writeback call failed for %d events: %s", len(batch), exc)
            return [call_outcome(exc)] * len(batch)
        written = {owner for write in [*changed, *records_changed] for owner in write.owners}
        outcomes: list[Outcome] = []
        for index, message in enumerate(batch):
            kind = message.value.type
            if index in rejected:
                self.metrics.events.labels(kind, "rejected").inc()
                outcomes.append(Retry(RecordsRejected(rejected[index])))
                continue
            refresh = refreshes[index]
            if refresh is not None:
                self.freshness.note(refresh, read_at)
            outcome = (
                "fresh"
                if index in fresh
                else "ignored"
                if refresh is None
                else "unlinked"
                if index in unlinked
                else "written"
                if index in written
                else "unchanged"
            )
            self.metrics.events.labels(kind, outcome).inc()
            asked = self._order_sync(kind, refresh, fetched)
            outcomes.append(Processed(asked))
        return outcomes

    def _order_sync(
        self, kind: str, refresh: Refresh | None, fetched: _Fetched
    ) -> tuple[OutputMessage, ...]:
        """The sync of the order whose releasing schedule started this subscription (A4)."""
        if kind != SUBSCRIPTION_STARTED or refresh is None or self._order_syncs is None:
            return ()
        links = self._links(refresh, fetched)
        schedule = (links.subscription or {}).get("schedule")
        if not isinstance(schedule, dict) or schedule.get("end_behavior") != "release":
            return ()
        order_id = ((schedule.get("metadata") or {}).get(self._order_key)) or None
        if not order_id:
            return ()
        self.metrics.syncs_asked.inc()
        # The schedule names its contract's initial order: the billing root itself.
        work = RootWork(
            root_object_type="Order",
            root_id=str(order_id),
            object_type="Order",
            record_id=str(order_id),
            resolved_at=utc_now(),
        )
        return (self._order_syncs.output(work),)

    def on_give_up(
        self, message: Message[StripeEvent], failure: Failure
    ) -> Sequence[OutputMessage]:
        self.metrics.events.labels(message.value.type, "dead_lettered").inc()
        log.error(
            "dead-lettering Stripe event %s (%s) after %d attempt(s): %s",
            message.value.event_id,
            message.value.type,
            failure.attempts,
            failure.error,
        )
        return [self._dead_letters.record(message, failure.error)]

    def _fetch(self, refreshes: Sequence[Refresh | None]) -> _Fetched:
        """Every object the batch names, read once and concurrently (a Stripe read is a
        round trip); a charge's invoice leads to its subscription, so invoices come first."""
        fetched = _Fetched()
        # A subscription's invoice shows on the Order through the subscription's latest one:
        # the event's own invoice is read for a one-time order, or for its invoice record.
        invoice_ids = sorted(
            {
                r.invoice_id
                for r in refreshes
                if r is not None and r.invoice_id and (self._invoice_paths or not r.subscription_id)
            }
        )
        fetched.invoices = self._read_all(self._reader.invoice, invoice_ids)
        wanted = {r.subscription_id for r in refreshes if r is not None and r.subscription_id}
        for invoice in fetched.invoices.values():
            if invoice and (sub_id := invoice_subscription(invoice)):
                wanted.add(sub_id)
        Target = dict[str, dict[str, Any] | None]
        Read = Callable[[str], dict[str, Any] | None]
        reads: list[tuple[Target, Read, str]] = [
            (fetched.subscriptions, self._reader.subscription, sub_id) for sub_id in sorted(wanted)
        ]
        if self._account_paths or any(p.root == "customer" for p in self._order_paths.values()):
            customer_ids = {r.customer_id for r in refreshes if r is not None and r.customer_id}
            reads += [(fetched.customers, self._reader.customer, c) for c in sorted(customer_ids)]
        answers = self._pool.map(lambda entry: entry[1](entry[2]), reads)
        for (target, _, object_id), answer in zip(reads, answers, strict=True):
            target[object_id] = answer
        return fetched

    def _read_all(
        self, read: Callable[[str], dict[str, Any] | None], ids: Sequence[str]
    ) -> dict[str, dict[str, Any] | None]:
        return dict(zip(ids, self._pool.map(read, ids), strict=True))

    def _links(self, refresh: Refresh, fetched: _Fetched) -> _Links:
        event_invoice = fetched.invoices.get(refresh.invoice_id or "")
        sub_id = refresh.subscription_id or (
            invoice_subscription(event_invoice) if event_invoice else None
        )
        subscription = fetched.subscriptions.get(sub_id or "")
        invoice = event_invoice
        if subscription is not None:
            latest = subscription.get("latest_invoice")
            invoice = latest if isinstance(latest, dict) else None
        customer = fetched.customers.get(refresh.customer_id or "")
        account_id = (customer or {}).get("metadata", {}).get(self._account_key)
        return _Links(
            subscription,
            invoice,
            event_invoice,
            customer,
            self._order_of(subscription, invoice),
            str(account_id) if account_id else None,
        )

    def _records(
        self, refresh: Refresh, fetched: _Fetched
    ) -> list[tuple[str, str, dict[str, Any]]]:
        """(object, id, field values) of every Salesforce record this refresh updates."""
        records: list[tuple[str, str, dict[str, Any]]] = []
        links = self._links(refresh, fetched)
        if links.order_id and self._order_paths:
            sources = {
                "subscription": links.subscription,
                "invoice": links.latest_invoice,
                "customer": links.customer,
            }
            records.append(("Order", links.order_id, field_values(self._order_paths, sources)))
        if links.account_id and self._account_paths:
            values = field_values(self._account_paths, {"customer": links.customer})
            records.append(("Account", links.account_id, values))
        return records

    def _invoice_record(self, refresh: Refresh, fetched: _Fetched) -> dict[str, Any] | None:
        """The event's invoice as a Stripe_Invoice__c record, when those are configured."""
        links = self._links(refresh, fetched)
        if not self._invoice_paths or links.event_invoice is None:
            return None
        return billing_invoice_records.invoice_record(
            self._invoice_paths, links.event_invoice, links.order_id, links.account_id
        )

    def _upsert_invoices(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self._collections.upsert(INVOICE_RECORD, billing_invoice_records.STRIPE_ID, records)

    def _order_of(
        self, subscription: dict[str, Any] | None, invoice: dict[str, Any] | None
    ) -> str | None:
        """The Order a subscription's schedule (or a one-time invoice) was made for."""
        candidates: list[dict[str, Any] | None] = []
        if subscription is not None:
            schedule = subscription.get("schedule")
            candidates += [schedule if isinstance(schedule, dict) else None, subscription]
        else:
            candidates.append(invoice)
        for owner in candidates:
            order_id = ((owner or {}).get("metadata") or {}).get(self._order_key)
            if order_id:
                return str(order_id)
        return None

    def _write(
        self,
        writes: Sequence[Write],
        rejected: dict[int, list[RecordError]],
        send: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
    ) -> None:
        if not writes:
            return
        answers = send([w.record for w in writes])
        for write, answer in zip(writes, answers, strict=True):
            errors = record_errors(write.object_type, write.record_ref, dict(answer))
            if not errors:
                self.metrics.fields_written.labels(write.object_type, "success").inc()
                continue
            if all(e.status_code in _GONE for e in errors):
                continue  # the Order or Account was deleted: nothing left to show it on
            self.metrics.fields_written.labels(write.object_type, "rejected").inc()
            for owner in write.owners:
                rejected[owner].extend(errors)


def _merge(
    writes: dict[tuple[str, str], Write],
    object_type: str,
    record_ref: str,
    record: dict[str, Any],
    owner: int,
) -> None:
    """One write per record (its id, or the Stripe id it is upserted by), owned by every
    event that needs it."""
    key = (object_type, record_ref)
    found = writes.get(key)
    owners = (owner,) if found is None else (*found.owners, owner)
    writes[key] = Write(object_type, record_ref, record, owners)
