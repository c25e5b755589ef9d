"""The root stage: root work in, Stripe state applied, SyncResults out.

The second of the sync's two consumer stages (docs/sync.md). It consumes the repartition topic
the trigger stage (``repartition``) fills, keyed by billing root, so Kafka's partition
ownership gives a root's work to one member of the group at a time; inside the member the
engine never runs two messages of one key at once, and ``RootLocks`` keeps any two batches
naming the same root apart.

Steps, each a module of its own: this one merges a batch's work per record, takes the root
locks, hydrates the records and looks up what Stripe holds for all of them at once, then runs
``record_sync`` (plan, converge, apply: one record) for each side by side, and hands the results
to ``results.ResultOutputs`` (encoding), with the work other roots are asked for (``root_asks``:
one writer per Stripe object) as root work to the same topic. What differs per object type is
in ``root_types``.

Level-triggered reconciliation (DESIGN section 1): whatever the events said, each record is
re-read from Salesforce, compared with what Stripe holds, planned and applied under
deterministic idempotency keys, so duplicates, reordering, gaps and replays all converge on the
same Stripe state. One batch costs one query per object type and one set of Stripe lookups.

Failures are kept per record: a record whose Stripe call keeps failing asks the engine to retry
the messages that led to it (the engine backs off; the retry re-plans from fresh state under
the same keys) while the batch's other records finish and report. Results travel as the
engine's outputs, so they are produced and acknowledged before the offsets commit.
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
from consumer.sync.apply import PlanApplier
from consumer.sync.contract_sync import ContractSync
from consumer.sync.failures import origin_message
from consumer.sync.hydration import Hydrator
from consumer.sync.live_switch import LiveState
from consumer.sync.record_sync import RecordOutcome, RecordSync
from consumer.sync.results import Attempt, ResultBuilder, ResultOutputs, gave_up
from consumer.sync.root_asks import RootWorkOutputs
from consumer.sync.root_locks import RootLocks
from consumer.sync.side_by_side import SideBySide
from consumer.sync.stripe_lookup import StripeLookup, StripeView
from consumer.sync.sync_metrics import SyncMetrics
from consumer.sync.triggers import RecordRef
from cpqsync.settings import Settings
from schemas.models import RootWork

log = logging.getLogger(__name__)


@dataclass
class _RootWork:
    attempt: Attempt
    billing_root: RecordRef
    messages: list[int] = field(default_factory=list)


# What became of one record's sync: its results and asks, or the error to retry its messages with.
Synced = RecordOutcome | RetryableError


class SyncHandler(BatchHandler[RootWork]):
    """Thread-safe: per-batch state is local; shared caches and locks are thread-safe."""

    max_batch_size = 50

    def __init__(
        self,
        *,
        settings: Settings,
        hydrator: Hydrator,
        lookup: StripeLookup,
        applier: PlanApplier,
        builder: ResultBuilder,
        live: LiveState,
        results: ResultOutputs,
        work: RootWorkOutputs,
        metrics: SyncMetrics,
        instance_url: Callable[[], str | None] = lambda: None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        root_parallelism: int = 32,
        locks: RootLocks | None = None,
    ) -> None:
        """``root_parallelism`` bounds the extra threads syncing a batch's roots side by side."""
        self._record_sync = RecordSync(
            settings=settings,
            contracts=ContractSync(hydrator, lookup, sandbox=settings.salesforce.is_sandbox),
            lookup=lookup,
            applier=applier,
            builder=builder,
            metrics=metrics,
            instance_url=instance_url,
            clock=clock,
        )
        self._hydrator = hydrator
        self._lookup = lookup
        self._builder = builder
        self._live = live
        self._results = results
        self._work = work
        self._metrics = metrics
        self._clock = clock
        self._locks = locks or RootLocks()
        self._side_by_side = SideBySide(root_parallelism, "cpqsync-root")

    # --- the engine's contract -----------------------------------------------------------

    def handle_batch(self, batch: Sequence[Message[RootWork]]) -> Sequence[Outcome]:
        live = self._live.is_live()
        now = self._clock()
        work: dict[RecordRef, _RootWork] = {}
        for index, message in enumerate(batch):
            asked = message.value
            if message.attempt == 1:
                hop = (now - asked.resolved_at).total_seconds()
                self._metrics.repartition.observe(max(0.0, hop))
            if not asked.manual and not live:
                self._metrics.unreported.labels("live_sync_off").inc()  # rule S4
                continue
            record = RecordRef(asked.object_type, asked.record_id)
            if asked.waited_for and message.attempt == 1:
                log.info(
                    "%s resumed after waiting for %s (P7): %s[%d]@%d",
                    record,
                    ", ".join(asked.waited_for),
                    message.topic,
                    message.partition,
                    message.offset,
                )
            found = work.get(record)
            if found is None:
                found = work[record] = _RootWork(
                    _attempt_of(asked, message.attempt),
                    RecordRef(asked.root_object_type, asked.root_id),
                )
            else:
                _merge(found.attempt, asked, message.attempt)
            found.attempt.partitions.append((message.topic, message.partition))
            found.messages.append(index)
        outputs: list[list[OutputMessage]] = [[] for _ in batch]
        retries: dict[int, RetryableError] = {}
        if work:
            with self._locks.holding(item.billing_root for item in work.values()):
                synced = self._sync_records(work, live)
            for record, item in work.items():
                done = synced[record]
                if isinstance(done, RetryableError):
                    for index in item.messages:
                        retries.setdefault(index, done)
                else:
                    out = outputs[item.messages[0]]
                    out.extend(self._results.outputs(done.results))
                    out.extend(self._work.asks(item.attempt, done.asks))
                    if done.waits:
                        out.append(self._work.wait(item.attempt, item.billing_root, done.waits))
                        log.info(
                            "%s (attempt %d) waits for the own sync of %s (P7): %s[%d]@%d",
                            record,
                            item.attempt.attempt,
                            ", ".join(str(w) for w in done.waits),
                            batch[item.messages[0]].topic,
                            batch[item.messages[0]].partition,
                            batch[item.messages[0]].offset,
                        )
        for index, message in enumerate(batch):
            if index not in retries:
                # Work another root waits on is done, whatever came of it: resume that root.
                outputs[index].extend(self._resumed(message))
        return [
            Retry(retries[index], retries[index].retry_after)
            if index in retries
            else Processed(tuple(outputs[index]))
            for index in range(len(batch))
        ]

    def follow_ownership(self, owns: Callable[[str, int], bool]) -> None:
        """Stop writing to Stripe for work whose partition ``owns`` no longer names."""
        self._record_sync.owns = owns

    def on_give_up(self, message: Message[RootWork], failure: Failure) -> Sequence[OutputMessage]:
        """Attempts ran out: an Error result for the record (rule R2)."""
        text = gave_up(failure)
        request_id = getattr(failure.error, "request_id", None)
        attempt = _attempt_of(message.value, message.attempt)
        error = self._results.output(self._builder.error(attempt, text, request_id=request_id))
        return [error, *self._resumed(message)]

    def on_dead_letter(
        self, message: Message[RootWork], failure: Failure
    ) -> Sequence[OutputMessage]:
        """Asked work whose retries ran out is kept for a redrive, but the root waiting on it
        goes on now (P7: it then gives its line a price of its own); docs/reliability.md fix 25."""
        return self._resumed(message)

    def _resumed(self, message: Message[RootWork]) -> list[OutputMessage]:
        """The next step of the work waiting on ``message`` (P7), if any waits on it."""
        then = message.value.then
        if then is None:
            return []
        log.info(
            "%s[%d]@%d done: %s goes on (P7; still to ask: %s)",
            message.topic,
            message.partition,
            message.offset,
            RecordRef(then.object_type, then.record_id),
            ", ".join(then.pending) or "none",
        )
        return [self._work.resume(then)]

    # --- one batch -----------------------------------------------------------------------

    def _sync_records(
        self, work: dict[RecordRef, _RootWork], live: bool
    ) -> dict[RecordRef, Synced]:
        """Hydrate and look up the batch's records together, then sync each."""
        try:
            records = self._hydrator.hydrate(work)
            view = self._lookup.view(
                records,
                # A retry, or work resumed after waiting for others' syncs (P7), reads Stripe
                # afresh rather than from what this process remembers.
                deep=any(w.attempt.attempt > 1 or w.attempt.waited_for for w in work.values()),
            )
        except RetryableError as error:
            return dict.fromkeys(work, error)
        except PermanentError as error:
            message = origin_message(error)
            return {
                ref: RecordOutcome([self._builder.error(w.attempt, message)])
                for ref, w in work.items()
            }
        synced: dict[RecordRef, Synced] = {}
        todo: list[tuple[RecordRef, Mapping[str, Any], Attempt]] = []
        for ref, item in work.items():
            record = records.get(ref)
            if record is None:
                message = f"Skipped: {ref} was deleted in Salesforce since the change"
                synced[ref] = RecordOutcome([self._builder.skipped(item.attempt, message)])
                continue
            # Results name the record as the org spells its id (18 characters).
            item.attempt.root = RecordRef(ref.object_type, str(record["Id"]))
            todo.append((ref, record, item.attempt))
        # The records at the same time: each spends its time waiting for Stripe, and one after
        # another a large batch made its last order wait for all the others.
        answers = self._side_by_side.run(
            [partial(self._sync_guarded, *one, view, live) for one in todo]
        )
        for (ref, _, _), answer in zip(todo, answers, strict=True):
            if isinstance(answer, Exception) and not isinstance(answer, RetryableError):
                raise answer  # a bug in one record fails the batch
            synced[ref] = answer
        return synced

    def _sync_guarded(
        self,
        ref: RecordRef,
        record: Mapping[str, Any],
        attempt: Attempt,
        view: StripeView,
        live: bool,
    ) -> Synced:
        try:
            return self._record_sync.sync(ref, record, attempt, view, live)
        except RetryableError as error:
            return error
        except PermanentError as error:
            return RecordOutcome([self._builder.error(attempt, origin_message(error))])

    def close(self) -> None:
        """Stop the threads that sync a batch's records side by side (idle ones only remain)."""
        self._side_by_side.close()

    # --- helpers -------------------------------------------------------------------------


def _attempt_of(work: RootWork, attempt: int) -> Attempt:
    return Attempt(
        root=RecordRef(work.object_type, work.record_id),
        manual=work.manual,
        request_id=work.request_id,
        sources=list(work.source_offsets),
        commit_timestamp=work.trigger_commit_timestamp,
        attempt=attempt,
        asked_by=_asked_by(work),
        waited_for=list(work.waited_for),
    )


def _asked_by(work: RootWork) -> RecordRef | None:
    if work.asked_by_object_type is None or work.asked_by_record_id is None:
        return None
    return RecordRef(work.asked_by_object_type, work.asked_by_record_id)


def _merge(attempt: Attempt, work: RootWork, number: int) -> None:
    """A second message leading to the same record: manual wins, newest commit time counts."""
    attempt.manual = attempt.manual or work.manual
    attempt.request_id = attempt.request_id or work.request_id
    attempt.sources.extend(work.source_offsets)
    newest = work.trigger_commit_timestamp
    if newest is not None and (
        attempt.commit_timestamp is None or newest > attempt.commit_timestamp
    ):
        attempt.commit_timestamp = newest
    attempt.attempt = max(attempt.attempt, number)
    if _asked_by(work) is None:
        attempt.asked_by = None  # a change or a request of its own: reported as usual
    attempt.waited_for.extend(e for e in work.waited_for if e not in attempt.waited_for)
