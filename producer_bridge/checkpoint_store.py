"""Reading the bridge's positions back from the compacted checkpoint topic.

The topic is keyed by channel and compacted, so its newest message per key is
the position. On start we read it from the beginning to its true end (Tansu's
watermark can undercount, see ``cpqsync.kafka.offsets``) and keep the last
checkpoint per channel; a value we cannot decode is reported and skipped, so a
bad write costs a replay rather than a crash loop.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from cpqsync.kafka.clients import admin_config
from cpqsync.kafka.offsets import end_offsets
from schemas.codec import Codec, SchemaDecodeError
from schemas.models import BridgeCheckpoint

log = logging.getLogger(__name__)


class CheckpointReadError(RuntimeError):
    """The checkpoint topic could not be read to its end in time."""


def load_checkpoints(
    bootstrap_servers: str,
    topic: str,
    codec: Codec,
    timeout_s: float = 30.0,
    extra_config: dict[str, Any] | None = None,
) -> dict[str, BridgeCheckpoint]:
    """The newest checkpoint per key (channel) on ``topic``."""
    consumer = Consumer(
        {
            **admin_config(bootstrap_servers, extra_config),
            "group.id": f"cpqsync-bridge-checkpoints-{uuid.uuid4()}",
            "enable.auto.commit": False,
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return {}
        partitions = [TopicPartition(topic, p) for p in metadata.partitions]
        ends = end_offsets(bootstrap_servers, partitions, timeout_s, extra_config)
        pending = {p.partition for p in partitions if ends[(topic, p.partition)] > 0}
        if not pending:
            return {}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in pending])
        latest: dict[str, BridgeCheckpoint] = {}
        deadline = time.monotonic() + timeout_s
        while pending:
            if time.monotonic() > deadline:
                raise CheckpointReadError(
                    f"could not read {topic} to its end within {timeout_s:.0f}s"
                )
            message = consumer.poll(0.2)
            if message is None:
                continue
            error = message.error()
            partition = int(message.partition() or 0)
            if error is not None:
                # End-of-partition events follow the broker's watermark, which Tansu
                # undercounts; the true end offsets decide when we are done.
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                raise CheckpointReadError(f"reading {topic}: {error.str()}")
            _apply(latest, message.key(), message.value(), topic, codec)
            if int(message.offset() or 0) + 1 >= ends[(topic, partition)]:
                pending.discard(partition)
        return latest
    finally:
        consumer.close()


def _apply(
    latest: dict[str, BridgeCheckpoint],
    key: bytes | None,
    value: bytes | None,
    topic: str,
    codec: Codec,
) -> None:
    channel = key.decode(errors="replace") if key else ""
    if value is None:  # a tombstone: the operator reset this channel
        latest.pop(channel, None)
        return
    try:
        record = codec.decode(value, topic)
    except SchemaDecodeError as exc:
        log.warning("skipping an unreadable checkpoint for %s on %s: %s", channel, topic, exc)
        return
    if isinstance(record, BridgeCheckpoint):
        latest[record.channel] = record
