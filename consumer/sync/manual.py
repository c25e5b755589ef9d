"""Manual syncs (``cpqsync sync-order``, ``sync-record``): publish a SyncRequest, await its result.

A manual sync goes through the running sync consumers like any event (so it is paced, locked
and reported the same way) and syncs whatever the live-sync switch says (rule S4). The waiter
starts reading the results topic at its current end *before* publishing, so it cannot miss a
fast answer, and it recognises the answer by the request id the result carries.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from confluent_kafka import Consumer, Producer, TopicPartition

from consumer.sync.results import reports_root
from consumer.sync.triggers import ROOT_TYPES, object_type_of
from cpqsync.kafka.clients import base_config, producer_config
from cpqsync.kafka.offsets import end_offsets
from cpqsync.kafka.topics import Topics
from cpqsync.salesforce_ids import normalize_id
from cpqsync.settings import KafkaSettings
from schemas.codec import Codec, SchemaDecodeError
from schemas.headers import schema_header
from schemas.models import SyncRequest, SyncResult, SyncStatus


class ManualSyncError(ValueError):
    """The request cannot be made (an id that names no syncable record)."""


@dataclass(frozen=True)
class ManualSyncAnswer:
    request: SyncRequest
    root: SyncResult | None  # None: no answer before the timeout
    results: list[SyncResult]


def syncable_type(record_id: str, expected: tuple[str, ...] = ROOT_TYPES) -> str:
    """The object type behind an id, if it is one a manual sync accepts."""
    text = record_id.strip()
    if len(text) not in (15, 18) or not text.isalnum():
        raise ManualSyncError(f"{record_id!r} is not a Salesforce record id (15 or 18 characters)")
    if normalize_id(text) is None:
        # Salesforce would answer a query on it with a bare INVALID_QUERY_FILTER_OPERATOR.
        raise ManualSyncError(
            f"no such record: {text} is not a valid Salesforce id (its last three characters "
            "do not match the first fifteen; was it mistyped?)"
        )
    object_type = object_type_of(text)
    if object_type not in expected:
        raise ManualSyncError(
            f"{record_id} is not a{'n' if expected[0][0] in 'AEIOU' else ''} "
            f"{' or '.join(expected)} id (its key prefix is {text[:3]})"
        )
    return object_type


def request_sync(
    kafka: KafkaSettings,
    bootstrap: str,
    record_id: str,
    *,
    object_type: str,
    requested_by: str,
    reason: str | None = None,
    timeout_s: float = 60.0,
) -> ManualSyncAnswer:
    topics, codec = Topics(kafka.topic_prefix), Codec.from_settings(kafka)
    request = SyncRequest(
        request_id=uuid.uuid4().hex,
        object_type=object_type,
        record_id=record_id.strip(),
        requested_by=requested_by,
        reason=reason,
    )
    consumer = Consumer(
        {
            **base_config(kafka, bootstrap),
            "group.id": f"cpqsync-manual-{request.request_id}",
            "enable.auto.commit": False,
        }
    )
    try:
        _assign_at_end(consumer, bootstrap, topics.sync_results)
        producer = Producer(producer_config(kafka, bootstrap))
        topic = topics.sync_requests
        producer.produce(
            topic,
            codec.encode(request, topic),
            request.record_id.encode(),
            headers=[schema_header(request)],
        )
        if producer.flush(15) != 0:
            raise RuntimeError(f"Kafka did not acknowledge the sync request on {topic}")
        return _await(consumer, codec, topics.sync_results, request, timeout_s)
    finally:
        consumer.close()


def _assign_at_end(consumer: Consumer, bootstrap: str, topic: str) -> None:
    meta = consumer.list_topics(topic, timeout=10).topics[topic]
    partitions = [TopicPartition(topic, p) for p in meta.partitions]
    ends = end_offsets(bootstrap, partitions)
    consumer.assign(
        [TopicPartition(topic, p.partition, ends[(topic, p.partition)]) for p in partitions]
    )


def _await(
    consumer: Consumer, codec: Codec, topic: str, request: SyncRequest, timeout_s: float
) -> ManualSyncAnswer:
    results: list[SyncResult] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        message = consumer.poll(0.2)
        if message is None or message.error() is not None:
            continue
        try:
            result = codec.decode_as(message.value(), topic, SyncResult)
        except SchemaDecodeError:
            continue
        if result.request_id != request.request_id:
            continue
        results.append(result)
        if reports_root(result) and result.primary_record_id[:15] == request.record_id[:15]:
            if result.status is SyncStatus.ERROR:
                results.extend(_rest_of_attempt(consumer, codec, topic, result, deadline))
            return ManualSyncAnswer(request, result, results)
    return ManualSyncAnswer(request, None, results)


def _rest_of_attempt(
    consumer: Consumer, codec: Codec, topic: str, first: SyncResult, deadline: float
) -> list[SyncResult]:
    """The attempt's other Errors (R4: one per record at fault, produced together under the
    root's key, so right behind the first): read until the topic is quiet for a moment."""
    found: list[SyncResult] = []
    while time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is None:
            return found
        if message.error() is not None:
            continue
        try:
            result = codec.decode_as(message.value(), topic, SyncResult)
        except SchemaDecodeError:
            continue
        if (
            result.request_id == first.request_id
            and result.status is SyncStatus.ERROR
            and result.attempted_at == first.attempted_at
        ):
            found.append(result)
    return found
