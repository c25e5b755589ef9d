"""Backfill: SNAPSHOT ChangeEvents for records changed since a date, resumable.

Used after the bridge was away longer than Salesforce's 72-hour retention, or
when connecting an org that already has data. Events are triggers (consumers
re-read the record), so a snapshot carries the record id and its timestamps,
not the whole record, and it is safe to run while the bridge streams: a record
seen twice is simply reconciled twice.

Each object starts with a ``COUNT()``. Below ``bridge.bulk_threshold`` rows it
pages by key (``Id > last ORDER BY Id LIMIT n``): progress is one id. At or
above it, one Bulk API 2.0 query job reads the rows (no ORDER BY: that would
disable Salesforce's PK chunking) in result sets of ``bridge.backfill_bulk_set_size``;
progress is the job id and the locator of the next set. Either kind of progress
is written to the checkpoint topic under ``backfill/<Object>/<since>`` after
Kafka acknowledged the page or set, so a rerun with the same ``--since``
repeats at most the page or set in flight. A finished job leaves the greatest
id it published as key progress, so a later rerun continues after it the same
way; a job the org no longer holds (deleted, or past its retention) is started
again from where that job started.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, Message, Producer
from simple_salesforce.exceptions import SalesforceError, SalesforceResourceNotFound

from cpqsync.kafka.topics import Topics
from cpqsync.salesforce.bulk_query import BulkJobFailed, BulkQueryClient, ResultSet
from cpqsync.salesforce.rest import SalesforceRest, error_codes
from cpqsync.salesforce_ids import id_sort_key
from cpqsync.settings import Settings
from cpqsync.soql.quoting import quote
from producer_bridge import metrics
from producer_bridge.checkpoint_store import load_checkpoints
from schemas.codec import Codec
from schemas.headers import COMMIT_TIMESTAMP_HEADER, epoch_millis, schema_header
from schemas.models import BridgeCheckpoint, ChangeEvent, ChangeType, utc_now

log = logging.getLogger(__name__)

# Which date decides "changed since" per object: an order counts from its activation (rule S2).
DATE_FIELDS = {
    "Order": "ActivatedDate",
    "Account": "LastModifiedDate",
    "Product2": "LastModifiedDate",
    "PricebookEntry": "LastModifiedDate",
    "OrderItem": "LastModifiedDate",
}
DEFAULT_OBJECTS = ("Account", "Product2", "PricebookEntry", "Order")
ORDER_DEFAULT_FILTER = "Status = 'Activated'"
_FLUSH_TIMEOUT_S = 60.0

ProgressCallback = Callable[[str, int, int], None]


class BackfillError(RuntimeError):
    """Backfill could not publish a page; rerun it to continue from the last stored page."""


@dataclass(frozen=True)
class ObjectPlan:
    """The query behind one object's backfill."""

    object_type: str
    where: str
    state_key: str

    def count_soql(self, after_id: str | None) -> str:
        # Object names come from DATE_FIELDS, values go through soql.quoting: no injection.
        return f"SELECT COUNT() FROM {self.object_type} WHERE {self._where(after_id)}"  # noqa: S608

    @property
    def datetime_fields(self) -> tuple[str, ...]:
        date_field = DATE_FIELDS[self.object_type]
        return ("LastModifiedDate",) + (() if date_field == "LastModifiedDate" else (date_field,))

    def page_soql(self, after_id: str | None, limit: int) -> str:
        return f"{self.bulk_soql(after_id)} ORDER BY Id LIMIT {limit}"

    def bulk_soql(self, after_id: str | None) -> str:
        fields = ", ".join(("Id", *self.datetime_fields))
        return f"SELECT {fields} FROM {self.object_type} WHERE {self._where(after_id)}"  # noqa: S608

    def _where(self, after_id: str | None) -> str:
        return self.where if after_id is None else f"({self.where}) AND Id > {quote(after_id)}"


@dataclass(frozen=True)
class BulkProgress:
    """Where a Bulk API query job's reading stands; stored as JSON in the checkpoint."""

    job_id: str
    next_locator: str
    published: int
    started_after: str | None  # the key progress the job's query started from
    greatest_id: str | None

    def encode(self) -> bytes:
        return json.dumps(self.__dict__, separators=(",", ":")).encode()

    @staticmethod
    def decode(raw: bytes) -> BulkProgress | None:
        """The stored progress of a job, or None when ``raw`` is key progress (a record id)."""
        if not raw.startswith(b"{"):
            return None
        return BulkProgress(**json.loads(raw))


def soql_datetime(moment: dt.datetime) -> str:
    """SOQL datetime literals carry whole seconds: ``since`` rounds down (a superset, never
    a gap)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def plan_for(object_type: str, since: dt.datetime, settings: Settings) -> ObjectPlan:
    """The WHERE clause: changed since ``since`` and passing the object's sync filter."""
    if object_type not in DATE_FIELDS:
        raise ValueError(
            f"cannot backfill {object_type!r}: choose from {', '.join(sorted(DATE_FIELDS))}"
        )
    conditions = [f"{DATE_FIELDS[object_type]} >= {soql_datetime(since)}"]
    configured = settings.sync.filters.get(object_type)  # type: ignore[call-overload]
    if configured:
        conditions.append(f"({configured})")
    elif object_type == "Order":
        conditions.append(ORDER_DEFAULT_FILTER)
    key = f"backfill/{object_type}/{soql_datetime(since)}"
    return ObjectPlan(object_type, " AND ".join(conditions), key)


class Backfill:
    """Publishes snapshots for each object in turn, storing progress after every page."""

    def __init__(
        self,
        settings: Settings,
        rest: SalesforceRest,
        producer: Producer,
        bootstrap_servers: str,
        codec: Codec | None = None,
        org_id: str | None = None,
        bulk: BulkQueryClient | None = None,
    ) -> None:
        self._settings = settings
        self._rest = rest
        self._bulk = bulk or BulkQueryClient(rest)
        self._producer = producer
        self._bootstrap = bootstrap_servers
        self._codec = codec or Codec.from_settings(settings.kafka)
        self._topics = Topics(settings.kafka.topic_prefix)
        self._org_id = org_id
        self._errors: list[str] = []

    def run(
        self,
        since: dt.datetime,
        objects: Sequence[str] = DEFAULT_OBJECTS,
        restart: bool = False,
        on_progress: ProgressCallback | None = None,
        on_total: Callable[[str, int], None] | None = None,
    ) -> dict[str, int]:
        """Records published per object. ``restart`` ignores stored progress."""
        plans = [plan_for(name, since, self._settings) for name in objects]
        stored = load_checkpoints(
            self._bootstrap,
            self._topics.bridge_checkpoints,
            self._codec,
            extra_config=dict(self._settings.kafka.client_config),
        )
        published: dict[str, int] = {}
        for plan in plans:
            progress = None if restart else stored.get(plan.state_key)
            published[plan.object_type] = self._backfill_object(
                plan, progress.replay_id if progress else None, on_progress, on_total
            )
        return published

    def _backfill_object(
        self,
        plan: ObjectPlan,
        stored: bytes | None,
        on_progress: ProgressCallback | None,
        on_total: Callable[[str, int], None] | None,
    ) -> int:
        after = None
        if stored is not None:
            bulk = BulkProgress.decode(stored)
            if bulk is None:
                after = stored.decode()
                log.info("backfill %s: resuming after %s", plan.object_type, after)
            else:
                resumed = self._resume_job(plan, bulk, on_progress, on_total)
                if resumed is not None:
                    return resumed
                after = bulk.started_after
        total = self._count(plan, after)
        if on_total is not None:
            on_total(plan.object_type, total)
        if total >= self._settings.bridge.bulk_threshold:
            try:
                return self._publish_job(plan, after, on_progress)
            except SalesforceError as exc:
                if "API_DISABLED_FOR_ORG" not in error_codes(exc):
                    raise
                log.warning(
                    "backfill %s: the org refuses Bulk API 2.0 (API_DISABLED_FOR_ORG); "
                    "paging %d records with SOQL instead",
                    plan.object_type,
                    total,
                )
        return self._publish_object(plan, after, on_progress)

    def _publish_job(
        self, plan: ObjectPlan, after: str | None, on_progress: ProgressCallback | None
    ) -> int:
        job_id = self._bulk.create(plan.bulk_soql(after))
        log.info("backfill %s: Bulk API 2.0 query job %s", plan.object_type, job_id)
        self._wait(plan, job_id)
        start = BulkProgress(job_id, "", 0, after, after)
        return self._publish_sets(plan, start, on_progress)

    def _resume_job(
        self,
        plan: ObjectPlan,
        progress: BulkProgress,
        on_progress: ProgressCallback | None,
        on_total: Callable[[str, int], None] | None,
    ) -> int | None:
        """Continue reading a stored job; None when the org no longer holds it."""
        try:
            info = self._bulk.wait(progress.job_id)
        except (SalesforceResourceNotFound, BulkJobFailed) as exc:
            gone = "is gone" if isinstance(exc, SalesforceResourceNotFound) else f"({exc})"
            log.warning(
                "backfill %s: query job %s %s; starting again after %s",
                plan.object_type,
                progress.job_id,
                gone,
                progress.started_after or "the start date",
            )
            return None
        log.info(
            "backfill %s: resuming query job %s after %d records",
            plan.object_type,
            progress.job_id,
            progress.published,
        )
        if on_total is not None:
            remaining = int(info.get("numberRecordsProcessed", 0)) - progress.published
            on_total(plan.object_type, max(0, remaining))
        return self._publish_sets(plan, progress, on_progress) - progress.published

    def _wait(self, plan: ObjectPlan, job_id: str) -> dict[str, Any]:
        try:
            return self._bulk.wait(job_id)
        except BulkJobFailed as exc:
            raise BackfillError(
                f"backfill {plan.object_type}: {exc}. Rerun the same command to start a new "
                f"job, or raise bridge.bulk_threshold to page with SOQL instead"
            ) from exc

    def _publish_sets(
        self, plan: ObjectPlan, progress: BulkProgress, on_progress: ProgressCallback | None
    ) -> int:
        """Publish every set from ``progress`` on; the job's published total."""
        set_size = self._settings.bridge.backfill_bulk_set_size
        topic = self._topics.object_topic(plan.object_type)
        locator: str | None = progress.next_locator or None
        published, greatest = progress.published, progress.greatest_id
        while True:
            found: ResultSet = self._bulk.results(progress.job_id, locator, set_size)
            for row in found.rows:
                record = _rest_record(row, plan.datetime_fields)
                self._produce(topic, self._snapshot(plan.object_type, record))
                greatest = _greater_id(greatest, str(record["Id"]))
            self._flush(plan.object_type)
            published += len(found.rows)
            if found.next_locator is None:
                # Done: the greatest id becomes key progress, so a rerun continues after it.
                if greatest is not None:
                    self._store_progress(plan, greatest.encode())
                self._forget_job(progress.job_id)
            else:
                next_progress = BulkProgress(
                    progress.job_id, found.next_locator, published, progress.started_after, greatest
                )
                self._store_progress(plan, next_progress.encode())
            metrics.BACKFILL_RECORDS.labels(plan.object_type).inc(len(found.rows))
            if on_progress is not None:
                on_progress(plan.object_type, len(found.rows), published)
            if found.next_locator is None:
                return published
            locator = found.next_locator

    def _forget_job(self, job_id: str) -> None:
        """Delete a fully read job; a job left behind only costs the org storage until it
        expires, so a failure here is logged, not raised."""
        try:
            self._bulk.delete(job_id)
        except Exception as exc:  # noqa: BLE001 - cleanup must not fail a finished backfill
            log.warning("backfill: could not delete query job %s: %s", job_id, exc)

    def _count(self, plan: ObjectPlan, after: str | None) -> int:
        result = self._query(plan.count_soql(after))
        return int(result.get("totalSize", 0))

    def _query(self, soql: str) -> dict[str, Any]:
        def operation(sf: Any) -> dict[str, Any]:
            return dict(sf.query(soql))

        return self._rest.call(operation)

    def _publish_object(
        self, plan: ObjectPlan, after: str | None, on_progress: ProgressCallback | None
    ) -> int:
        page_size = self._settings.bridge.backfill_page_size
        topic = self._topics.object_topic(plan.object_type)
        count = 0
        while True:
            page = self._query(plan.page_soql(after, page_size))
            records: list[dict[str, Any]] = page.get("records", [])
            if not records:
                return count
            for record in records:
                self._produce(topic, self._snapshot(plan.object_type, record))
            after = str(records[-1]["Id"])
            self._flush(plan.object_type)
            self._store_progress(plan, after.encode())
            count += len(records)
            metrics.BACKFILL_RECORDS.labels(plan.object_type).inc(len(records))
            if on_progress is not None:
                on_progress(plan.object_type, len(records), count)
            if len(records) < page_size:
                return count

    def _snapshot(self, object_type: str, record: dict[str, Any]) -> ChangeEvent:
        values = {
            name: ChangeEvent.encode_value(value)
            for name, value in record.items()
            if name not in ("attributes", "Id")
        }
        modified = _parse_salesforce_datetime(record.get("LastModifiedDate"))
        return ChangeEvent(
            object_type=object_type,
            record_id=str(record["Id"]),
            change_type=ChangeType.SNAPSHOT,
            values=values,
            commit_timestamp=modified or utc_now(),
            org_id=self._org_id,
        )

    def _produce(self, topic: str, event: ChangeEvent) -> None:
        value = self._codec.encode(event, topic)
        headers: list[tuple[str, str | bytes | None]] = [
            schema_header(ChangeEvent),
            (COMMIT_TIMESTAMP_HEADER, epoch_millis(event.commit_timestamp)),
        ]
        while True:
            try:
                self._producer.produce(
                    topic,
                    value,
                    event.record_id.encode(),
                    headers=headers,
                    on_delivery=self._delivered,
                )
                return
            except BufferError:
                self._producer.poll(0.05)

    def _delivered(self, error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            self._errors.append(error.str())

    def _flush(self, object_type: str) -> None:
        remaining = int(self._producer.flush(_FLUSH_TIMEOUT_S))
        if self._errors or remaining:
            reason = self._errors[0] if self._errors else f"{remaining} messages unsent"
            raise BackfillError(
                f"backfill {object_type}: Kafka did not acknowledge a page ({reason}); "
                f"rerun the same command to continue after the last stored page"
            )

    def _store_progress(self, plan: ObjectPlan, progress: bytes) -> None:
        checkpoint = BridgeCheckpoint(channel=plan.state_key, replay_id=progress)
        topic = self._topics.bridge_checkpoints
        self._producer.produce(
            topic,
            self._codec.encode(checkpoint, topic),
            plan.state_key.encode(),
            headers=[schema_header(BridgeCheckpoint)],
            on_delivery=self._delivered,
        )
        self._flush(plan.object_type)


def _rest_record(row: dict[str, str | None], datetime_fields: Sequence[str]) -> dict[str, Any]:
    """A Bulk CSV row shaped as the REST query resource returns the same record, so both paths
    publish identical snapshots: CSV writes datetimes ``…000Z``, REST ``…000+0000``."""
    record: dict[str, Any] = dict(row)
    for name in datetime_fields:
        moment = _parse_salesforce_datetime(record.get(name))
        if moment is not None:
            utc = moment.astimezone(dt.UTC)
            millis = f"{utc.microsecond // 1000:03d}"
            record[name] = utc.strftime("%Y-%m-%dT%H:%M:%S.") + millis + "+0000"
    return record


def _greater_id(current: str | None, candidate: str) -> str:
    if current is None:
        return candidate
    return max(current, candidate, key=lambda value: id_sort_key(value) or value)


def _parse_salesforce_datetime(raw: Any) -> dt.datetime | None:
    """Salesforce REST datetimes look like ``2024-05-01T10:00:00.000+0000``."""
    if not isinstance(raw, str):
        return None
    try:
        return dt.datetime.strptime(raw, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        try:
            return dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            return None
