"""One record's sync in the root stage: plan, converge, apply, and say what happened.

Given the record as hydrated and what Stripe holds (the batch's ``StripeView``), plan it with
its root type's planner (``root_types``), drop the updates Stripe already matches
(``convergence``), leave other roots' updates to them (``root_asks``), apply the rest, and
return its SyncResults with the roots to ask. Raises ``RetryableError`` for
the engine to retry the record's messages; a refusal is a result, not an exception.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from consumer.engine import RetryableError
from consumer.sync.apply import ApplyOutcome, PlanApplier
from consumer.sync.contract_sync import ContractSync
from consumer.sync.convergence import without_unchanged_updates
from consumer.sync.failures import StaleView
from consumer.sync.planning import Plan, PlanningContext, SourceRecord
from consumer.sync.planning.preferences import filter_for
from consumer.sync.results import Attempt, ResultBuilder, with_reports
from consumer.sync.root_asks import leave_to_others
from consumer.sync.root_types import Existing, RootType, root_type
from consumer.sync.stripe_lookup import StripeLookup, StripeView
from consumer.sync.stripe_operations import operation_kind
from consumer.sync.sync_metrics import SyncMetrics
from consumer.sync.triggers import RecordRef
from cpqsync.settings import Settings
from schemas.models import SyncResult


@dataclass(frozen=True)
class RecordOutcome:
    """A record's results, and the records whose own roots must sync after it."""

    results: list[SyncResult]
    asks: tuple[SourceRecord, ...] = ()
    # The records whose own sync must run first; the record is synced again after them (P7).
    waits: tuple[SourceRecord, ...] = ()


class RecordSync:
    """Thread-safe: holds no per-record state."""

    def __init__(
        self,
        *,
        settings: Settings,
        contracts: ContractSync,
        lookup: StripeLookup,
        applier: PlanApplier,
        builder: ResultBuilder,
        metrics: SyncMetrics,
        instance_url: Callable[[], str | None],
        clock: Callable[[], dt.datetime],
    ) -> None:
        # The planner reads the live-sync switch from the settings (rule S4): one copy each.
        self._settings = {
            live: settings.model_copy(
                update={"sync": settings.sync.model_copy(update={"live": live})}
            )
            for live in (True, False)
        }
        self._sandbox = settings.salesforce.is_sandbox
        self._contracts = contracts
        self._lookup = lookup
        self._applier = applier
        self._builder = builder
        self._metrics = metrics
        self._instance_url = instance_url
        self._clock = clock
        # Whether this member still owns a root stage partition (the engine's ``owns``); set by
        # the wiring once the engine exists. Unset (tests, dry runs): always.
        self.owns: Callable[[str, int], bool] = lambda _topic, _partition: True

    def sync(
        self,
        ref: RecordRef,
        record: Mapping[str, Any],
        attempt: Attempt,
        view: StripeView,
        live: bool,
    ) -> RecordOutcome:
        kind = root_type(ref.object_type)
        existing = kind.existing(str(record["Id"]), view)
        unfiltered = filter_for(ref.object_type, self._context(view, attempt, live)) is None
        # Asked by another root: that root just made or found the object, so it is in Stripe
        # even where the lookups have not caught up yet.
        asked = attempt.asked_by is not None
        if not (attempt.manual or asked or kind.syncs_before_stripe or existing or not unfiltered):
            self._metrics.unreported.labels("not_synced_yet").inc()
            return RecordOutcome([])
        with self._contracts.holding(record):
            if kind.in_contract:
                contract = self._contracts.plan(
                    record,
                    partial(self._context, attempt=attempt, live=live),
                    deep=attempt.attempt > 1 or bool(attempt.waited_for),
                )
                if contract is not None:
                    return self._finish(
                        kind, record, attempt, contract.view, contract.plan, contract.existing
                    )
            record = view.completed(ref.object_type, record)
            plan = kind.plan(record, context=self._context(view, attempt, live))
            return self._finish(kind, record, attempt, view, plan, existing)

    def _apply(self, plan: Plan, attempt: Attempt, view: StripeView) -> ApplyOutcome:
        try:
            outcome = self._applier.apply(
                plan, partial(self._still_owned, attempt), looked_up_afresh=view.afresh
            )
        except RetryableError:
            self._lookup.distrust()
            raise
        self._learn(outcome)
        return outcome

    def _finish(
        self,
        kind: RootType,
        record: Mapping[str, Any],
        attempt: Attempt,
        view: StripeView,
        plan: Plan,
        existing: Existing | None,
    ) -> RecordOutcome:
        """Apply ``plan`` (less what Stripe already holds) and report what it did."""
        left = leave_to_others(without_unchanged_updates(plan, view.current), kind.others)
        plan = left.plan
        if plan.status == "waiting":
            # P7: out-of-date objects another root writes; synced again once it has run.
            self._metrics.unreported.labels("P7_waits").inc()
            return RecordOutcome([], left.asks(None), plan.waits)
        if plan.status != "ready":
            if existing is not None and any(s.rule in kind.in_sync_skips for s in plan.skips):
                # In sync already (an invoiced order, O3), yet an interrupted or abandoned
                # attempt may have made its account's customer without reporting it (R3),
                # and left the line prices its invoice used active (P6: the plan archives
                # them; a failure to is systemic and retried, an archive is never an Error).
                if plan.operations:
                    self._apply(Plan(plan.root, plan.operations), attempt, view)
                up_to_date = self._builder.up_to_date(attempt, existing)
                unmarked = self._unmarked(kind, record, view, attempt, reported=set())
                return RecordOutcome([up_to_date, *unmarked], left.asks(None))
            results = self._builder.unapplied(attempt, plan)
            if not results:
                reason = plan.skips[0].rule if plan.skips else "unreported"
                self._metrics.unreported.labels(reason).inc()
            return RecordOutcome(results)
        outcome = self._apply(plan, attempt, view)
        asks = left.asks(outcome)
        if outcome.error is not None:
            self._lookup.distrust()
            if view.remembered and attempt.attempt == 1:
                # Stripe may have refused what a remembered (stale) price made us send: plan
                # once more from fresh lookups before reporting the error.
                raise StaleView(str(outcome.error), request_id=outcome.error.request_id)
            # The refusal is the root's outcome (its Error), yet what the attempt or an earlier
            # one made before it is in Stripe and goes back to its records all the same (R3).
            return RecordOutcome(
                self._reported(kind, record, attempt, view, outcome, existing), asks
            )
        if attempt.asked_by is not None and not outcome.applied:
            # Asked, and Stripe already held it all: nothing happened worth a Sync Record.
            self._metrics.unreported.labels("asked_in_sync").inc()
            return RecordOutcome([], asks)
        results = self._reported(kind, record, attempt, view, outcome, existing)
        if attempt.commit_timestamp is not None:
            elapsed = (self._clock() - attempt.commit_timestamp).total_seconds()
            self._metrics.end_to_end.labels(kind.object_type).observe(max(0.0, elapsed))
        return RecordOutcome(results, asks)

    def _reported(
        self,
        kind: RootType,
        record: Mapping[str, Any],
        attempt: Attempt,
        view: StripeView,
        outcome: ApplyOutcome,
        existing: Existing | None,
    ) -> list[SyncResult]:
        """The results of an applied plan (its Error too, where Stripe refused part of it) and
        of the root's records whose Stripe object exists unnamed (``_unmarked``)."""
        results = self._builder.applied(attempt, outcome, existing)
        # Only an operation that identifies its record reported that record's Stripe id: a
        # Product2 whose attempt made only its meter is still unmarked (R3; fix 18).
        reported = {
            applied.operation.source
            for applied in outcome.applied
            if applied.operation.source.object_type
            in operation_kind(applied.operation.kind).identifies
        }
        return with_reports(results, self._unmarked(kind, record, view, attempt, reported=reported))

    def _still_owned(self, attempt: Attempt) -> bool:
        return all(self.owns(topic, partition) for topic, partition in attempt.partitions)

    def _unmarked(
        self,
        kind: RootType,
        record: Mapping[str, Any],
        view: StripeView,
        attempt: Attempt,
        *,
        reported: set[SourceRecord],
    ) -> list[SyncResult]:
        """Success results for the root's records whose Stripe object exists but whose
        Stripe_ID__c does not name it yet (an interrupted attempt made it), unless reported."""
        if kind.unmarked is None:
            return []
        unmarked = [u for u in kind.unmarked(record, view, self._lookup) if u[0] not in reported]
        return self._builder.already_synced(attempt, unmarked)

    def _context(self, view: StripeView, attempt: Attempt, live: bool) -> PlanningContext:
        return PlanningContext(
            settings=self._settings[live],
            now=self._clock(),
            sandbox=self._sandbox,
            known=view.known,
            trigger="manual" if attempt.manual else "live",
            salesforce_instance_url=self._instance_url(),
            waited_for=frozenset(attempt.waited_for),
        )

    def _learn(self, outcome: ApplyOutcome) -> None:
        for applied in outcome.applied:
            self._metrics.stripe_operations.labels(applied.operation.kind).inc()
            self._lookup.learn(applied.operation.kind, applied.result, replayed=applied.replayed)
