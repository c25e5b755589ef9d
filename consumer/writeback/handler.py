"""The writeback's batch handler: results in, Sync Records and Stripe ids out.

Per batch: one read of the stored Sync Records, one read of the current Stripe
fields per object type, one collection update (Stripe fields that change, and
Resolved errors), one collection upsert (Sync Records). A result is
done only when every write it needs succeeded; a rejected write makes just that
result retry (the engine backs off and tries again, then gives up), and giving
up dead-letters the original message with Salesforce's error in its headers.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from simple_salesforce.exceptions import SalesforceError

from consumer.engine import (
    BatchHandler,
    DeadLetters,
    DependencyDown,
    Fail,
    Failure,
    Message,
    Outcome,
    OutputMessage,
    PermanentError,
    Processed,
    Retry,
    RetryableError,
)
from consumer.writeback.batch_plan import LinkOptions, Write, plan_batch
from consumer.writeback.current_values import fetch_current, without_unchanged
from consumer.writeback.metrics import WritebackMetrics
from consumer.writeback.record_errors import RecordError, RecordsRejected, record_errors
from consumer.writeback.sobject_collections import MAX_RECORDS, SObjectCollections
from consumer.writeback.stored_records import fetch_stored
from consumer.writeback.sync_record import COMPOUND_ID, SYNC_RECORD
from cpqsync.salesforce.auth import SalesforceAuthError
from cpqsync.salesforce.rest import RetryableSalesforceError, error_codes, what_to_check
from schemas.models import SyncResult

log = logging.getLogger(__name__)

_GONE = frozenset({"ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY"})


def call_outcome(exc: BaseException) -> Outcome:
    """What a whole failed call means for every result still waiting on it.

    The org unable to serve us (limits, 5xx, network, a login that fails) is systemic: the
    engine holds the results until it is back. A locked row is retried, then dead-lettered.
    """
    if isinstance(exc, SalesforceAuthError) or (
        isinstance(exc, RetryableSalesforceError) and exc.systemic
    ):
        text = f"Salesforce Error: {exc}"
        return Retry(DependencyDown(text, dependency="salesforce", setting=what_to_check(exc)))
    if isinstance(exc, RetryableSalesforceError):
        return Retry(RetryableError(f"Salesforce Error: {exc}"))
    if isinstance(exc, SalesforceError):
        codes = ", ".join(error_codes(exc)) or f"HTTP {exc.status}"
        return Fail(PermanentError(f"Salesforce Error: {codes}: {exc.content!r}"))
    return Retry(exc)


class WritebackHandler(BatchHandler[SyncResult]):
    """Thread-safe: each batch builds its own plan and the collaborators are thread-safe."""

    def __init__(
        self,
        collections: SObjectCollections,
        metrics: WritebackMetrics,
        dead_letters: DeadLetters,
        *,
        batch_size: int = MAX_RECORDS,
        links: LinkOptions | None = None,
        on_created: Callable[[int], None] | None = None,
    ) -> None:
        if not 1 <= batch_size <= MAX_RECORDS:
            raise ValueError(f"batch_size must be 1..{MAX_RECORDS}, got {batch_size}")
        # A batch of n results upserts at most n Sync Records: n <= 200 fills one call.
        self.max_batch_size = batch_size
        self._collections = collections
        self._metrics = metrics
        self._dead_letters = dead_letters
        self._links = links or LinkOptions()
        self._on_created = on_created

    def handle_batch(self, batch: Sequence[Message[SyncResult]]) -> Sequence[Outcome]:
        results = [message.value for message in batch]
        self._metrics.batch_size.observe(len(results))
        outcomes: list[Outcome | None] = [None] * len(results)
        try:
            stored = fetch_stored(self._collections, (r.primary_record_id for r in results))
        except Exception as exc:  # noqa: BLE001 - classified for every result
            return [call_outcome(exc)] * len(results)
        plan = plan_batch(results, stored, self._links)
        for index, reason in plan.skipped.items():
            outcomes[index] = Processed()
            self._metrics.results.labels(results[index].status.value, reason.value).inc()

        rejected: dict[int, list[RecordError]] = defaultdict(list)
        try:
            current = fetch_current(self._collections, plan.updates)
            updates = without_unchanged(plan.updates, current)
            self._write(updates, rejected, lambda recs: self._collections.update(recs))
            upserts = [w for w in plan.upserts if not rejected.keys() & set(w.owners)]
            created = self._write(
                upserts,
                rejected,
                lambda recs: self._collections.upsert(SYNC_RECORD, COMPOUND_ID, recs),
            )
        except Exception as exc:  # noqa: BLE001 - classified for every unfinished result
            failed = call_outcome(exc)
            log.warning("writeback call failed for %d results: %s", len(results), exc)
            return [outcome if outcome is not None else failed for outcome in outcomes]
        if created and self._on_created is not None:
            self._on_created(created)

        for index in plan.live:
            status = results[index].status.value
            if index in rejected:
                errors = rejected[index]
                log.warning(
                    "Salesforce rejected writes of result %s: %s",
                    results[index].result_id,
                    "; ".join(e.describe() for e in errors),
                )
                self._metrics.results.labels(status, "rejected").inc()
                outcomes[index] = Retry(RecordsRejected(errors))
            else:
                self._metrics.results.labels(status, "written").inc()
                outcomes[index] = Processed()
        return [o if o is not None else Processed() for o in outcomes]

    def on_give_up(self, message: Message[SyncResult], failure: Failure) -> Sequence[OutputMessage]:
        """Keep the result on the dead-letter topic with the error Salesforce gave."""
        self._metrics.results.labels(message.value.status.value, "dead_lettered").inc()
        log.error(
            "dead-lettering sync result %s (%s %s) after %d attempt(s): %s",
            message.value.result_id,
            message.value.primary_object_type,
            message.value.primary_record_id,
            failure.attempts,
            failure.error,
        )
        return [self._dead_letters.record(message, failure.error)]

    def _write(
        self,
        writes: Sequence[Write],
        rejected: dict[int, list[RecordError]],
        send: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
    ) -> int:
        """Send ``writes``; note each rejection against its owners; return records created."""
        if not writes:
            return 0
        answers = send([w.record for w in writes])
        created = 0
        for write, answer in zip(writes, answers, strict=True):
            errors = record_errors(write.object_type, write.record_ref, dict(answer))
            if not errors:
                self._metrics.records_written.labels(write.object_type, "success").inc()
                created += 1 if answer.get("created") else 0
                continue
            if write.gone_is_fine and all(e.status_code in _GONE for e in errors):
                continue
            self._metrics.records_written.labels(write.object_type, "rejected").inc()
            for owner in write.owners:
                rejected[owner].extend(errors)
        return created
