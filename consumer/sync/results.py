"""SyncResults: one per record a sync attempt touched, as the writeback consumer needs them.

Conventions (docs/sync.md): the root of the attempt (an Order, Account, Product2 or
PricebookEntry) always gets a result, except for skips the rules say to leave unreported (live
sync off, filters in live sync: rules S3, S4). Every other record an operation came from (the
order's account, products, pricebook entries, lines with their own prices) gets a result with
the root as its secondary record. An Error names the root as primary and the record at fault as
secondary, the root itself for its own faults (rule R4), one Error per record at fault. Messages
start with their origin (rule R2).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from consumer.engine import Failure, OutputMessage
from consumer.sync.apply import Applied, ApplyOutcome
from consumer.sync.dashboard import DashboardLinks
from consumer.sync.failures import origin_message
from consumer.sync.planning import Plan, SourceRecord
from consumer.sync.planning.inline_prices import at_path
from consumer.sync.stripe_operations import operation_kind
from consumer.sync.sync_metrics import SyncMetrics
from consumer.sync.triggers import RecordRef
from consumer.sync.unmarked_objects import Unmarked
from schemas.codec import Codec
from schemas.headers import COMMIT_TIMESTAMP_HEADER, epoch_millis, schema_header
from schemas.models import SourceOffset, SyncResult, SyncStatus, utc_now


def reports_root(result: SyncResult) -> bool:
    """Whether ``result`` is about its primary record's own sync (rather than a record synced
    for it): the root's Success or Skipped has no secondary, its Errors name the record at
    fault as secondary (R4), while other records' results name the root as secondary."""
    return result.secondary_record_id is None or result.status is SyncStatus.ERROR


@dataclass
class Attempt:
    """The context every result of one root's sync shares."""

    root: RecordRef
    manual: bool = False
    request_id: str | None = None
    sources: list[SourceOffset] = field(default_factory=list)
    commit_timestamp: dt.datetime | None = None
    attempt: int = 1
    started: float = field(default_factory=time.monotonic)
    # The work messages' own partitions (the root stage's input): while the member owns them,
    # it alone works on this root.
    partitions: list[tuple[str, int]] = field(default_factory=list)
    # Another root's sync asked for this one (``root_asks``): it reports only what it changes.
    asked_by: RecordRef | None = None
    # PricebookEntry ids whose own sync this work already waited for (P7).
    waited_for: list[str] = field(default_factory=list)


class ResultBuilder:
    def __init__(self, links: DashboardLinks) -> None:
        self._links = links

    def _result(
        self,
        attempt: Attempt,
        primary: RecordRef | SourceRecord,
        status: SyncStatus,
        message: str,
        *,
        secondary: RecordRef | SourceRecord | None = None,
        stripe_id: str | None = None,
        stripe_kind: str | None = None,
        request_ids: Sequence[str] = (),
        link: str | None = None,
        payment_link: str | None = None,
        attempted_at: dt.datetime | None = None,
    ) -> SyncResult:
        if link is None and stripe_id and stripe_kind:
            link = self._links.object(stripe_kind, stripe_id)
        return SyncResult(
            result_id=uuid.uuid4().hex,
            primary_record_id=primary.id,
            primary_object_type=primary.object_type,
            secondary_record_id=secondary.id if secondary else None,
            secondary_object_type=secondary.object_type if secondary else None,
            status=status,
            message=message,
            stripe_object_id=stripe_id,
            stripe_object_type=stripe_kind,
            stripe_request_ids=list(dict.fromkeys(request_ids)),
            dashboard_link=link,
            invoice_payment_link=payment_link,
            attempt=max(1, attempt.attempt),
            source_offsets=attempt.sources,
            request_id=attempt.request_id,
            duration_ms=max(0.0, (time.monotonic() - attempt.started) * 1000),
            trigger_commit_timestamp=attempt.commit_timestamp,
            attempted_at=attempted_at or utc_now(),
        )

    # --- outcomes ----------------------------------------------------------------------------

    def applied(
        self, attempt: Attempt, outcome: ApplyOutcome, existing: tuple[str, str] | None = None
    ) -> list[SyncResult]:
        """Results of a plan Stripe accepted (or refused part-way: ``outcome.error``)."""
        root = outcome.plan.root
        by_record: dict[SourceRecord, list[Applied]] = {}
        for applied in outcome.applied:
            # A contract's schedule names every order of the contract (A1): each is synced.
            named = (w.record for w in applied.operation.writeback if w.field == "Stripe_ID__c")
            for record in dict.fromkeys((applied.operation.source, *named)):
                by_record.setdefault(record, []).append(applied)
        failed_record = outcome.failed.source if outcome.failed is not None else None
        out: list[SyncResult] = []
        for record, ops in by_record.items():
            if record in (root, failed_record):
                continue
            out.append(self._success(attempt, record, ops, secondary=attempt.root))
        if outcome.error is not None:
            request_id = outcome.error.request_id
            out.append(
                self._result(
                    attempt,
                    attempt.root,
                    SyncStatus.ERROR,
                    str(outcome.error),
                    secondary=failed_record or root,  # R4: the record at fault
                    request_ids=outcome.request_ids,
                    link=self._links.request(request_id) if request_id else None,
                )
            )
            return out
        out.append(self._success(attempt, root, by_record.get(root, []), existing=existing))
        return out

    def _success(
        self,
        attempt: Attempt,
        record: SourceRecord,
        ops: list[Applied],
        *,
        secondary: RecordRef | None = None,
        existing: tuple[str, str] | None = None,
    ) -> SyncResult:
        # The operation whose object the record's Stripe_ID__c names (rule R3). Only such an
        # operation may name it: a Product2 whose attempt only made its meter must not have the
        # meter's id written as its Stripe_ID__c.
        main = next(
            (a for a in ops if record.object_type in operation_kind(a.operation.kind).identifies),
            None,
        )
        payment_link = next(
            (
                str(a.result[w.attribute])
                for a in ops
                for w in a.operation.writeback
                if w.field == "Stripe_Invoice_Payment_Link__c" and a.result.get(w.attribute)
            ),
            None,
        )
        named = _named_in_answer(record, ops)
        stripe_id: str | None
        if named is not None:
            # An inline line price (sync.inline_line_prices): made by the schedule's request,
            # named in its answer. An evergreen order's subscription (A4): started by the
            # schedule's create, changed by its update.
            kind, stripe_id = named
            verb = (
                operation_kind(main.operation.kind).verb
                if main is not None and kind != "price"
                else "created"
            )
        elif main is not None:
            main_kind = operation_kind(main.operation.kind)
            kind, verb = main_kind.stripe_object, main_kind.verb
            stripe_id = main.stripe_id
        elif existing is not None:
            kind, stripe_id, verb = existing[0], existing[1], "already up to date:"
        else:
            kind, stripe_id, verb = None, None, "nothing to change"
        message = f"Synced: {verb} {kind} {stripe_id}" if stripe_id else f"Synced: {verb}"
        if main is None and named is None and existing is None and ops:
            # Objects of its own other than the one its Stripe_ID__c names (a meter, say): said
            # in the message, never written as its Stripe id.
            other = ops[0]
            other_kind = operation_kind(other.operation.kind)
            message = f"Synced: {other_kind.verb} {other_kind.stripe_object} {other.stripe_id}"
        return self._result(
            attempt,
            record,
            SyncStatus.SUCCESS,
            message,
            secondary=secondary,
            stripe_id=stripe_id,
            stripe_kind=kind,
            request_ids=[a.request_id for a in ops if a.request_id],
            payment_link=payment_link,
        )

    def unapplied(self, attempt: Attempt, plan: Plan) -> list[SyncResult]:
        """Results of a plan with errors (Data Error, ...) or a reported skip; may be none."""
        if plan.errors:
            # R4: one Error per record at fault, the root itself for the order's own faults,
            # stamped alike: the writeback resolves earlier errors this attempt no longer has.
            at = utc_now()
            return [
                self._result(
                    attempt,
                    attempt.root,
                    SyncStatus.ERROR,
                    issue.message,
                    secondary=issue.record,
                    attempted_at=at,
                )
                for issue in plan.errors
            ]
        return [
            self._result(attempt, attempt.root, SyncStatus.SKIPPED, skip.message)
            for skip in plan.skips
            if skip.record == plan.root and skip.reported
        ][:1]

    def error(self, attempt: Attempt, message: str, *, request_id: str | None = None) -> SyncResult:
        return self._result(
            attempt,
            attempt.root,
            SyncStatus.ERROR,
            message,
            request_ids=[request_id] if request_id else (),
            link=self._links.request(request_id) if request_id else None,
        )

    def up_to_date(self, attempt: Attempt, existing: tuple[str, str]) -> SyncResult:
        kind, stripe_id = existing
        return self._result(
            attempt,
            attempt.root,
            SyncStatus.SUCCESS,
            f"Synced: already up to date: {kind} {stripe_id}",
            stripe_id=stripe_id,
            stripe_kind=kind,
        )

    def already_synced(self, attempt: Attempt, found: Sequence[Unmarked]) -> list[SyncResult]:
        """Success for records whose Stripe object an earlier, interrupted attempt made, each
        stamped with when Stripe said the object is the record's where the sync asked (fix 20)."""
        return [
            self._result(
                attempt,
                record,
                SyncStatus.SUCCESS,
                f"Synced: already up to date: {kind} {stripe_id}",
                secondary=attempt.root,
                stripe_id=stripe_id,
                stripe_kind=kind,
                attempted_at=seen_at,
            )
            for record, kind, stripe_id, seen_at in found
        ]

    def skipped(self, attempt: Attempt, message: str) -> SyncResult:
        return self._result(attempt, attempt.root, SyncStatus.SKIPPED, message)


class ResultOutputs:
    """The last stage: SyncResults as the engine's outputs, keyed by primary record id, so the
    engine produces them, and has them acknowledged, before committing what led to them."""

    def __init__(self, codec: Codec, topic: str, metrics: SyncMetrics) -> None:
        self._codec = codec
        self._topic = topic
        self._metrics = metrics

    def output(self, result: SyncResult) -> OutputMessage:
        self._metrics.results.labels(result.status.value, result.primary_object_type).inc()
        headers = [schema_header(result)]
        if result.trigger_commit_timestamp is not None:
            headers.append((COMMIT_TIMESTAMP_HEADER, epoch_millis(result.trigger_commit_timestamp)))
        return OutputMessage(
            topic=self._topic,
            value=self._codec.encode(result, self._topic),
            key=result.primary_record_id.encode(),
            headers=tuple(headers),
        )

    def outputs(self, results: Iterable[SyncResult]) -> list[OutputMessage]:
        return [self.output(result) for result in results]


def with_reports(results: list[SyncResult], reports: list[SyncResult]) -> list[SyncResult]:
    """``results`` with an attempt's reports of records found in Stripe (``already_synced``).

    One result per record and attempt: a record the attempt already reported without a Stripe
    id (a Product2 whose attempt made only its meter, fix 18) gets the report's id in that
    result. Two results of one compound id would reach the writeback in turn, usually stamped
    the same millisecond, and the second would pass for a replay of the first (a duplicate) and
    write nothing, leaving the product without its Stripe id (CI run, fix 21)."""
    by_compound = {
        (r.primary_record_id, r.secondary_record_id): i
        for i, r in enumerate(results)
        if r.status is SyncStatus.SUCCESS and not r.stripe_object_id
    }
    out = list(results)
    for report in reports:
        index = by_compound.get((report.primary_record_id, report.secondary_record_id))
        if index is None:
            out.append(report)
            continue
        earlier = out[index]
        out[index] = earlier.model_copy(
            update={
                "message": f"{earlier.message}; {report.message.removeprefix('Synced: ')}",
                "stripe_object_id": report.stripe_object_id,
                "stripe_object_type": report.stripe_object_type,
                "dashboard_link": report.dashboard_link,
                "attempted_at": max(earlier.attempted_at, report.attempted_at),
            }
        )
    return out


def _named_in_answer(record: SourceRecord, ops: list[Applied]) -> tuple[str, str] | None:
    """(kind, id) of an object another object's answer names for ``record``: a writeback of its
    ``Stripe_ID__c`` whose attribute is a path ending in the object's kind (an inline line
    price, ``phases.0.items.1.price``; an evergreen order's subscription, ``subscription``,
    once its schedule has started it: A4). None where the answer names none yet."""
    for applied in ops:
        for writeback in applied.operation.writeback:
            if writeback.record != record or writeback.field != "Stripe_ID__c":
                continue
            if writeback.attribute == "id":
                continue
            value = at_path(applied.result, writeback.attribute)
            if isinstance(value, str) and value:
                return writeback.attribute.rsplit(".", 1)[-1], value
    return None


def gave_up(failure: Failure) -> str:
    """The Error result's message when the engine's attempts ran out (rule R2)."""
    text = origin_message(failure.error)
    if failure.retries_exhausted:
        text += f" (gave up after {failure.attempts} attempts)"
    return text
