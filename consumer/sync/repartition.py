"""The trigger stage: change events and sync requests in, root work keyed by billing root out.

The first of the sync's two consumer stages (docs/sync.md). It filters triggers (deletes and
writeback echoes, live sync off: rules C1, S4), resolves the rest to the records to sync and
each record to its billing root (``billing_roots``), and emits one ``RootWork`` per record,
keyed by the root's id, to the repartition topic. The root stage consumes that topic, so a
root's work is always on the partition its key hashes to, and Kafka gives each partition to
one member of the group: that is what makes one member at a time sync a root.

The work is an engine output, so the triggers' offsets commit only once the broker has
acknowledged it. Resolution failures stay here: a retryable one retries the triggers, a
permanent one answers each named record with an Error result (rule R2).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

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
from consumer.sync.billing_roots import BillingRoots
from consumer.sync.failures import origin_message
from consumer.sync.live_switch import LiveState
from consumer.sync.results import Attempt, ResultBuilder, ResultOutputs, gave_up
from consumer.sync.root_asks import RootWorkOutputs
from consumer.sync.roots import RootResolver
from consumer.sync.sync_metrics import SyncMetrics
from consumer.sync.triggers import RecordRef, SyncInput, Trigger, trigger_of
from schemas.models import RootWork, SourceOffset, utc_now

log = logging.getLogger(__name__)


@dataclass
class _Work:
    """What the batch's triggers ask of one record: merged, as one message to the root stage."""

    first: int  # the batch index of the first trigger naming the record
    manual: bool = False
    request_id: str | None = None
    commit_timestamp: dt.datetime | None = None
    sources: list[SourceOffset] = field(default_factory=list)

    def add(self, trigger: Trigger) -> None:
        # Manual wins (it syncs with live sync off); the newest commit time counts.
        self.manual = self.manual or trigger.manual
        self.request_id = self.request_id or trigger.request_id
        if trigger.source is not None:
            self.sources.append(trigger.source)
        newest = self.commit_timestamp
        if trigger.commit_timestamp is not None and (
            newest is None or trigger.commit_timestamp > newest
        ):
            self.commit_timestamp = trigger.commit_timestamp


class TriggerStage(BatchHandler[SyncInput]):
    """Thread-safe: per-batch state is local."""

    # Resolution costs a query or two per batch whatever its size: batches can be large.
    max_batch_size = 500

    def __init__(
        self,
        *,
        resolver: RootResolver,
        billing_roots: BillingRoots,
        live: LiveState,
        work: RootWorkOutputs,
        builder: ResultBuilder,
        results: ResultOutputs,
        metrics: SyncMetrics,
    ) -> None:
        self._resolver = resolver
        self._billing_roots = billing_roots
        self._live = live
        self._work = work
        self._builder = builder
        self._results = results
        self._metrics = metrics

    def handle_batch(self, batch: Sequence[Message[SyncInput]]) -> Sequence[Outcome]:
        triggers = [trigger_of(message) for message in batch]
        active = self._active(triggers)
        outputs: list[list[OutputMessage]] = [[] for _ in batch]
        if active:
            try:
                outputs = self._repartition(triggers, active, outputs)
            except RetryableError as error:
                return [
                    Retry(error, error.retry_after) if index in active else Processed()
                    for index in range(len(batch))
                ]
            except PermanentError as error:
                for index in active:
                    outputs[index] = self._errors(triggers[index], origin_message(error))
        return [Processed(tuple(out)) for out in outputs]

    def on_give_up(self, message: Message[SyncInput], failure: Failure) -> Sequence[OutputMessage]:
        """Attempts ran out: an Error result for each record the message named (rule R2)."""
        trigger = trigger_of(message)
        text = gave_up(failure)
        if not trigger.records:
            log.error(
                "gave up on %s[%d]@%d: %s", message.topic, message.partition, message.offset, text
            )
        return self._errors(trigger, text, request_id=getattr(failure.error, "request_id", None))

    def _active(self, triggers: list[Trigger]) -> list[int]:
        """The triggers that ask for a sync; the others are only counted."""
        live = self._live.is_live()
        active: list[int] = []
        for index, trigger in enumerate(triggers):
            if trigger.ignored is not None:
                self._metrics.unreported.labels("not_propagated").inc()
            elif not trigger.manual and not live:
                self._metrics.unreported.labels("live_sync_off").inc()  # rule S4
            else:
                active.append(index)
        return active

    def _repartition(
        self, triggers: list[Trigger], active: list[int], outputs: list[list[OutputMessage]]
    ) -> list[list[OutputMessage]]:
        records_per_trigger = self._resolver.resolve([triggers[i] for i in active])
        work: dict[RecordRef, _Work] = {}
        for index, records in zip(active, records_per_trigger, strict=True):
            for record in records:
                work.setdefault(record, _Work(first=index)).add(triggers[index])
        roots = self._billing_roots.of(work)
        resolved_at = utc_now()
        for record, item in work.items():
            root = roots[record]
            message = RootWork(
                root_object_type=root.object_type,
                root_id=root.id,
                object_type=record.object_type,
                record_id=record.id,
                manual=item.manual,
                request_id=item.request_id,
                trigger_commit_timestamp=item.commit_timestamp,
                source_offsets=item.sources,
                resolved_at=resolved_at,
            )
            outputs[item.first].append(self._work.output(message))
        return outputs

    def _errors(
        self, trigger: Trigger, text: str, *, request_id: str | None = None
    ) -> list[OutputMessage]:
        return [
            self._results.output(
                self._builder.error(attempt_of(ref, trigger), text, request_id=request_id)
            )
            for ref in trigger.records
        ]


def attempt_of(ref: RecordRef, trigger: Trigger) -> Attempt:
    return Attempt(
        root=ref,
        manual=trigger.manual,
        request_id=trigger.request_id,
        sources=[trigger.source] if trigger.source else [],
        commit_timestamp=trigger.commit_timestamp,
        attempt=trigger.attempt,
    )
