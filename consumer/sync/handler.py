"""The sync consumer's batch handler: triggers -> roots -> hydrate -> look up -> plan -> apply.

Level-triggered reconciliation (DESIGN section 1): whatever the events said, each root is
re-read from Salesforce, compared with what Stripe holds, planned and applied under
deterministic idempotency keys, so duplicates, reordering, gaps and replays all converge on the
same Stripe state. One batch costs one query per object type and one set of Stripe lookups.

Failures are kept per root: a root whose Stripe call keeps failing asks the engine to retry the
messages that led to it (the engine backs off; the retry re-plans from fresh state under the
same keys) while the batch's other roots finish and report. Results travel as the engine's
outputs, so they are produced and acknowledged before the offsets commit.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from consumer.engine import (
    BatchHandler,
    Failure,
    Message,
    Outcome,
    OutputMessage,
    PermanentError,
    Processed,
    Retry,
    RetryableError,
)
from consumer.sync.apply import ApplyOutcome, PlanApplier
from consumer.sync.contract_sync import ContractSync
from consumer.sync.convergence import without_unchanged_updates
from consumer.sync.failures import StaleView, origin_message
from consumer.sync.hydration import Hydrator
from consumer.sync.live_switch import LiveState
from consumer.sync.planning import (
    Plan,
    PlanningContext,
    plan_account,
    plan_order,
    plan_pricebook_entry,
    plan_product,
)
from consumer.sync.planning.preferences import filter_for
from consumer.sync.results import Attempt, ResultBuilder
from consumer.sync.root_locks import RootLocks
from consumer.sync.roots import RootResolver
from consumer.sync.side_by_side import SideBySide
from consumer.sync.stripe_lookup import StripeLookup, StripeView
from consumer.sync.sync_metrics import SyncMetrics
from consumer.sync.triggers import RecordRef, SyncInput, Trigger, trigger_of
from consumer.sync.unmarked_objects import unmarked_objects
from cpqsync.settings import Settings
from schemas.codec import Codec
from schemas.headers import COMMIT_TIMESTAMP_HEADER, epoch_millis, schema_header
from schemas.models import SyncResult

log = logging.getLogger(__name__)

PLANNERS: dict[str, Callable[..., Plan]] = {
    "Order": plan_order,
    "Account": plan_account,
    "Product2": plan_product,
    "PricebookEntry": plan_pricebook_entry,
}


@dataclass
class _RootWork:
    attempt: Attempt
    messages: list[int] = field(default_factory=list)
    results: list[SyncResult] = field(default_factory=list)
    retry: RetryableError | None = None


class SyncHandler(BatchHandler[SyncInput]):
    """Thread-safe: per-batch state is local; shared caches and locks are thread-safe."""

    max_batch_size = 50

    def __init__(
        self,
        *,
        settings: Settings,
        resolver: RootResolver,
        hydrator: Hydrator,
        lookup: StripeLookup,
        applier: PlanApplier,
        builder: ResultBuilder,
        live: LiveState,
        codec: Codec,
        results_topic: str,
        metrics: SyncMetrics,
        instance_url: Callable[[], str | None] = lambda: None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        root_parallelism: int = 32,
    ) -> None:
        """``root_parallelism`` bounds the extra threads syncing a batch's roots side by side."""
        self._settings = {
            live: settings.model_copy(
                update={"sync": settings.sync.model_copy(update={"live": live})}
            )
            for live in (True, False)
        }
        self._resolver = resolver
        self._hydrator = hydrator
        self._lookup = lookup
        self._applier = applier
        self._builder = builder
        self._live = live
        self._codec = codec
        self._topic = results_topic
        self._metrics = metrics
        self._instance_url = instance_url
        self._clock = clock
        self._sandbox = settings.salesforce.is_sandbox
        self._locks = RootLocks()
        self._contracts = ContractSync(hydrator, lookup, sandbox=self._sandbox)
        self._side_by_side = SideBySide(root_parallelism, "cpqsync-root")

    # --- the engine's contract -----------------------------------------------------------

    def handle_batch(self, batch: Sequence[Message[SyncInput]]) -> Sequence[Outcome]:
        triggers = [trigger_of(message) for message in batch]
        live = self._live.is_live()
        active: list[int] = []
        for index, trigger in enumerate(triggers):
            if trigger.ignored is not None:
                self._metrics.unreported.labels("not_propagated").inc()
            elif not trigger.manual and not live:
                self._metrics.unreported.labels("live_sync_off").inc()  # rule S4
            else:
                active.append(index)
        outputs: list[list[OutputMessage]] = [[] for _ in batch]
        retries: dict[int, RetryableError] = {}
        if active:
            self._sync(triggers, active, live, outputs, retries)
        outcomes: list[Outcome] = []
        for index in range(len(batch)):
            if index in retries:
                error = retries[index]
                outcomes.append(Retry(error, error.retry_after))
            else:
                outcomes.append(Processed(tuple(outputs[index])))
        return outcomes

    def on_give_up(self, message: Message[SyncInput], failure: Failure) -> Sequence[OutputMessage]:
        """Attempts ran out: an Error result for each record the message named (rule R2)."""
        trigger = trigger_of(message)
        text = origin_message(failure.error)
        if failure.retries_exhausted:
            text += f" (gave up after {failure.attempts} attempts)"
        request_id = getattr(failure.error, "request_id", None)
        out = []
        for ref in trigger.records:
            attempt = self._attempt_for(ref, trigger)
            out.append(
                self._output(self._builder.error(attempt, text, request_id=request_id), trigger)
            )
        if not trigger.records:
            log.error(
                "gave up on %s[%d]@%d: %s", message.topic, message.partition, message.offset, text
            )
        return out

    # --- one batch -----------------------------------------------------------------------

    def _sync(
        self,
        triggers: list[Trigger],
        active: list[int],
        live: bool,
        outputs: list[list[OutputMessage]],
        retries: dict[int, RetryableError],
    ) -> None:
        try:
            roots_per_trigger = self._resolver.resolve([triggers[i] for i in active])
        except RetryableError as error:
            for index in active:
                retries[index] = error
            return
        except PermanentError as error:
            for index in active:
                for ref in triggers[index].records:
                    result = self._builder.error(
                        self._attempt_for(ref, triggers[index]), origin_message(error)
                    )
                    outputs[index].append(self._output(result, triggers[index]))
            return
        work: dict[RecordRef, _RootWork] = {}
        for index, roots in zip(active, roots_per_trigger, strict=True):
            trigger = triggers[index]
            for root in roots:
                item = work.get(root)
                if item is None:
                    item = work[root] = _RootWork(self._attempt_for(root, trigger))
                else:
                    _merge(item.attempt, trigger)
                item.messages.append(index)
        if not work:
            return
        with self._locks.holding(work):
            self._sync_roots(work, live)
        for item in work.values():
            first = item.messages[0]
            if item.retry is not None:
                for index in item.messages:
                    retries.setdefault(index, item.retry)
                continue
            trigger = triggers[first]
            outputs[first].extend(self._output(result, trigger) for result in item.results)

    def _sync_roots(self, work: dict[RecordRef, _RootWork], live: bool) -> None:
        try:
            records = self._hydrator.hydrate(work)
            view = self._lookup.view(
                records, deep=any(w.attempt.attempt > 1 for w in work.values())
            )
        except RetryableError as error:
            for item in work.values():
                item.retry = error
            return
        except PermanentError as error:
            for item in work.values():
                item.results.append(self._builder.error(item.attempt, origin_message(error)))
            return
        todo: list[tuple[RecordRef, Mapping[str, Any], _RootWork]] = []
        for root, item in work.items():
            record = records.get(root)
            if record is None:
                item.results.append(
                    self._builder.skipped(
                        item.attempt, f"Skipped: {root} was deleted in Salesforce since the change"
                    )
                )
                continue
            # Results name the record as the org spells its id (18 characters).
            item.attempt.root = RecordRef(root.object_type, str(record["Id"]))
            todo.append((root, record, item))
        self._sync_concurrently(todo, view, live)

    def _sync_concurrently(
        self,
        todo: list[tuple[RecordRef, Mapping[str, Any], _RootWork]],
        view: StripeView,
        live: bool,
    ) -> None:
        """The batch's roots at the same time: each spends its time waiting for Stripe, and one
        after another a large batch made its last order wait for all the others."""
        if not todo:
            return
        outcomes = self._side_by_side.run(
            [
                partial(self._sync_guarded, root, record, item, view, live)
                for root, record, item in todo
            ]
        )
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                raise outcome  # a bug in one root fails the batch, as it did one root at a time

    def _sync_guarded(
        self,
        root: RecordRef,
        record: Mapping[str, Any],
        item: _RootWork,
        view: StripeView,
        live: bool,
    ) -> None:
        try:
            self._sync_one(root, record, item, view, live)
        except RetryableError as error:
            item.retry = error
        except PermanentError as error:
            item.results.append(self._builder.error(item.attempt, origin_message(error)))

    def close(self) -> None:
        """Stop the threads that sync a batch's roots side by side (idle ones only remain)."""
        self._side_by_side.close()

    def _sync_one(
        self,
        root: RecordRef,
        record: Mapping[str, Any],
        item: _RootWork,
        view: StripeView,
        live: bool,
    ) -> None:
        manual = item.attempt.manual
        existing = _existing(root, record, view)
        unfiltered = filter_for(root.object_type, self._context(view, manual, live)) is None
        if not manual and root.object_type != "Order" and existing is None and unfiltered:
            # Only synced records follow their changes; new ones sync with an order, by hand,
            # or through a filter that selects them.
            self._metrics.unreported.labels("not_synced_yet").inc()
            return
        with self._contracts.holding(record):
            if root.object_type == "Order":
                contract = self._contracts.plan(
                    record,
                    partial(self._context, manual=manual, live=live),
                    deep=item.attempt.attempt > 1,
                )
                if contract is not None:
                    self._finish(
                        root, record, item, contract.view, contract.plan, contract.existing
                    )
                    return
            record = view.completed(root.object_type, record)
            plan = PLANNERS[root.object_type](record, context=self._context(view, manual, live))
            self._finish(root, record, item, view, plan, existing)

    def _finish(
        self,
        root: RecordRef,
        record: Mapping[str, Any],
        item: _RootWork,
        view: StripeView,
        plan: Plan,
        existing: tuple[str, str] | None,
    ) -> None:
        """Apply ``plan`` (less what Stripe already holds) and report what it did."""
        plan = without_unchanged_updates(plan, view.current)
        if plan.status != "ready":
            if existing is not None and any(s.rule == "O3" for s in plan.skips):
                # Already invoiced (O3): the order is in sync, and says so with its invoice.
                item.results.append(self._builder.up_to_date(item.attempt, existing))
                return
            results = self._builder.unapplied(item.attempt, plan)
            if not results:
                reason = plan.skips[0].rule if plan.skips else "unreported"
                self._metrics.unreported.labels(reason).inc()
            item.results.extend(results)
            return
        try:
            outcome = self._applier.apply(plan)
        except RetryableError:
            self._lookup.distrust()
            raise
        self._learn(outcome)
        if outcome.error is not None:
            self._lookup.distrust()
            if view.remembered and item.attempt.attempt == 1:
                # Stripe may have refused what a remembered (stale) price made us send: plan
                # once more from fresh lookups before reporting the error.
                raise StaleView(str(outcome.error), request_id=outcome.error.request_id)
        item.results.extend(self._builder.applied(item.attempt, outcome, existing))
        if outcome.error is None and root.object_type == "Order":
            reported = {applied.operation.source for applied in outcome.applied}
            unmarked = [
                u
                for u in unmarked_objects(
                    record, view.known, partial(self._lookup.is_current_price, view=view)
                )
                if u[0] not in reported
            ]
            item.results.extend(self._builder.already_synced(item.attempt, unmarked))
        commit = item.attempt.commit_timestamp
        if outcome.error is None and commit is not None:
            elapsed = (self._clock() - commit).total_seconds()
            self._metrics.end_to_end.labels(root.object_type).observe(max(0.0, elapsed))

    # --- helpers -------------------------------------------------------------------------

    def _context(self, view: StripeView, manual: bool, live: bool) -> PlanningContext:
        return PlanningContext(
            settings=self._settings[live],
            now=self._clock(),
            sandbox=self._sandbox,
            known=view.known,
            trigger="manual" if manual else "live",
            salesforce_instance_url=self._instance_url(),
        )

    def _learn(self, outcome: ApplyOutcome) -> None:
        for applied in outcome.applied:
            self._metrics.stripe_operations.labels(applied.operation.kind).inc()
            self._lookup.learn(applied.operation.kind, applied.result, replayed=applied.replayed)

    def _attempt_for(self, root: RecordRef, trigger: Trigger) -> Attempt:
        return Attempt(
            root=root,
            manual=trigger.manual,
            request_id=trigger.request_id,
            sources=[trigger.source] if trigger.source else [],
            commit_timestamp=trigger.commit_timestamp,
            attempt=trigger.attempt,
        )

    def _output(self, result: SyncResult, trigger: Trigger) -> OutputMessage:
        self._metrics.results.labels(result.status.value, result.primary_object_type).inc()
        headers = [schema_header(result)]
        if trigger.commit_timestamp is not None:
            headers.append((COMMIT_TIMESTAMP_HEADER, epoch_millis(trigger.commit_timestamp)))
        return OutputMessage(
            topic=self._topic,
            value=self._codec.encode(result, self._topic),
            key=result.primary_record_id.encode(),
            headers=tuple(headers),
        )


def _merge(attempt: Attempt, trigger: Trigger) -> None:
    """A second message leading to the same root: manual wins, newest commit time counts."""
    attempt.manual = attempt.manual or trigger.manual
    attempt.request_id = attempt.request_id or trigger.request_id
    if trigger.source is not None:
        attempt.sources.append(trigger.source)
    if trigger.commit_timestamp is not None and (
        attempt.commit_timestamp is None or trigger.commit_timestamp > attempt.commit_timestamp
    ):
        attempt.commit_timestamp = trigger.commit_timestamp
    attempt.attempt = max(attempt.attempt, trigger.attempt)


def _existing(
    root: RecordRef, record: Mapping[str, Any], view: StripeView
) -> tuple[str, str] | None:
    """The Stripe object the root already has, as (kind, id), if any."""
    record_id = str(record["Id"])
    known = view.known
    if root.object_type == "Order":
        if record_id in known.schedules:
            return "subscription_schedule", known.schedules[record_id]
        if record_id in view.invoices:
            return "invoice", view.invoices[record_id]
        return None
    if root.object_type == "Account":
        customer = known.customers.get(record_id)
        return ("customer", customer.id) if customer and not customer.deleted else None
    if root.object_type == "Product2":
        product = known.products.get(record_id)
        return ("product", product) if product else None
    if root.object_type == "PricebookEntry":
        price = known.prices.get(record_id)
        return ("price", price.id) if price else None
    return None
