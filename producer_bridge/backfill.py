"""Backfill: SNAPSHOT ChangeEvents for records changed since a date, resumable.

Used after the bridge was away longer than Salesforce's 72-hour retention, or
when connecting an org that already has data. Events are triggers (consumers
re-read the record), so a snapshot carries the record id and its timestamps,
not the whole record, and it is safe to run while the bridge streams: a record
seen twice is simply reconciled twice.

Paging is by key (``Id > last ORDER BY Id LIMIT n``) rather than by cursor, so
progress is one id per object. After every page is acknowledged by Kafka, that
id is written to the checkpoint topic under ``backfill/<Object>/<since>``; a
rerun with the same ``--since`` continues after it, so an interruption repeats
at most the page in flight. (Bulk API 2.0 is not used: key paging needs no job
polling, and one SOQL page a call is well within API limits for the volumes a
CPQ org holds.)
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from cpqsync.kafka.topics import Topics
from cpqsync.salesforce.rest import SalesforceRest
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

    def page_soql(self, after_id: str | None, limit: int) -> str:
        date_field = DATE_FIELDS[self.object_type]
        fields = "Id, LastModifiedDate" + (
            f", {date_field}" if date_field != "LastModifiedDate" else ""
        )
        return (
            f"SELECT {fields} FROM {self.object_type} WHERE {self._where(after_id)} "  # noqa: S608
            f"ORDER BY Id LIMIT {limit}"
        )

    def _where(self, after_id: str | None) -> str:
        return self.where if after_id is None else f"({self.where}) AND Id > {quote(after_id)}"


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
    ) -> None:
        self._settings = settings
        self._rest = rest
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
            after = None
            if not restart and plan.state_key in stored:
                after = stored[plan.state_key].replay_id.decode()
                log.info("backfill %s: resuming after %s", plan.object_type, after)
            total = self._count(plan, after)
            if on_total is not None:
                on_total(plan.object_type, total)
            published[plan.object_type] = self._publish_object(plan, after, on_progress)
        return published

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
            self._store_progress(plan, after)
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

    def _store_progress(self, plan: ObjectPlan, last_id: str) -> None:
        checkpoint = BridgeCheckpoint(channel=plan.state_key, replay_id=last_id.encode())
        topic = self._topics.bridge_checkpoints
        self._producer.produce(
            topic,
            self._codec.encode(checkpoint, topic),
            plan.state_key.encode(),
            headers=[schema_header(BridgeCheckpoint)],
            on_delivery=self._delivered,
        )
        self._flush(plan.object_type)


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
