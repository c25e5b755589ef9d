"""ChangeEvents, dead letters and checkpoints onto Kafka, with acknowledgements tracked.

Every message a Salesforce event turns into reports its delivery to the
:class:`~producer_bridge.ack_tracker.AckTracker`, which is what lets the bridge
checkpoint only replay ids Kafka has fully acknowledged. The producer is
idempotent with ``acks=all`` (``cpqsync.kafka.clients.producer_config``), so
retries inside librdkafka neither lose nor reorder events of one key.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence

from confluent_kafka import KafkaError, Message, Producer

from producer_bridge import metrics
from producer_bridge.ack_tracker import AckTracker, Position, Token
from schemas.codec import Codec
from schemas.dead_letter import to_headers
from schemas.headers import (
    COMMIT_TIMESTAMP_HEADER,
    REPLAY_ID_HEADER,
    TRACE_ID_HEADER,
    epoch_millis,
    schema_header,
)
from schemas.models import BridgeCheckpoint, ChangeEvent, DeadLetter

# The Salesforce schema id of an undecodable payload, so it can be fetched and replayed.
SALESFORCE_SCHEMA_ID_HEADER = "cpqsync-sf-schema-id"

TopicFor = Callable[[str], str | None]


class EventPublisher:
    """Produces one channel's messages; used from that channel's thread only."""

    def __init__(
        self,
        producer: Producer,
        codec: Codec,
        topic_for: TopicFor,
        dlq_topic: str,
        checkpoint_topic: str,
        channel: str,
        tracker: AckTracker | None = None,
    ) -> None:
        self._producer = producer
        self._codec = codec
        self._topic_for = topic_for
        self._dlq_topic = dlq_topic
        self._checkpoint_topic = checkpoint_topic
        self._channel = channel
        self.tracker = tracker or AckTracker()
        self._latency = metrics.PRODUCE_LATENCY.labels(channel)

    def publish(self, events: Sequence[ChangeEvent], position: Position) -> Token:
        """Produce the ChangeEvents of one Salesforce event (routable ones; others counted)."""
        routed: list[tuple[str, ChangeEvent]] = []
        for event in events:
            topic = self._topic_for(event.object_type)
            if topic is None:
                metrics.EVENTS_UNROUTED.labels(self._channel, event.object_type).inc()
            else:
                routed.append((topic, event))
        token = self.tracker.add(position, len(routed))
        trace_id = uuid.uuid4().hex.encode("ascii")
        for topic, event in routed:
            headers: list[tuple[str, str | bytes | None]] = [
                schema_header(ChangeEvent),
                (COMMIT_TIMESTAMP_HEADER, epoch_millis(event.commit_timestamp)),
                (TRACE_ID_HEADER, trace_id),
            ]
            if event.replay_id is not None:
                headers.append((REPLAY_ID_HEADER, event.replay_id))
            # GAP_OVERFLOW names no record: key it by object type so it stays in one partition.
            key = event.record_id or event.object_type
            self._produce(
                topic,
                key.encode(),
                self._codec.encode(event, topic),
                headers,
                self._on_event(token, event.change_type.value),
            )
        return token

    def dead_letter(
        self, payload: bytes, schema_id: str, error: Exception, position: Position
    ) -> Token:
        """The original payload to the DLQ with where it came from and why it failed."""
        token = self.tracker.add(position, 1)
        # The shared envelope (schemas.dead_letter), so `cpqsync dlq` reads every letter alike;
        # a channel is not a Kafka partition, so partition and offset are -1 and the replay id
        # says where the event was.
        letter = DeadLetter(
            origin_topic=self._channel,
            origin_partition=-1,
            origin_offset=-1,
            error_class=type(error).__name__,
            error_message=str(error),
        )
        headers: list[tuple[str, str | bytes | None]] = [
            *to_headers(letter),
            (REPLAY_ID_HEADER, position.replay_id),
            (SALESFORCE_SCHEMA_ID_HEADER, schema_id.encode()),
        ]
        self._produce(
            self._dlq_topic, position.replay_id, payload, headers, self._on_event(token, None)
        )
        return token

    def checkpoint(self, checkpoint: BridgeCheckpoint) -> None:
        """Write a checkpoint; at-least-once is enough (a lost one only means replaying more)."""
        value = self._codec.encode(checkpoint, self._checkpoint_topic)
        self._produce(
            self._checkpoint_topic,
            checkpoint.channel.encode(),
            value,
            [schema_header(BridgeCheckpoint)],
            None,
        )
        metrics.CHECKPOINTS_WRITTEN.labels(self._channel).inc()

    def poll(self, timeout: float = 0.0) -> None:
        self._producer.poll(timeout)

    def flush(self, timeout: float) -> bool:
        """Wait for outstanding deliveries; True when nothing is left in the queue."""
        return int(self._producer.flush(timeout)) == 0

    def _produce(
        self,
        topic: str,
        key: bytes,
        value: bytes,
        headers: list[tuple[str, str | bytes | None]],
        on_delivery: Callable[[KafkaError | None, Message], None] | None,
    ) -> None:
        while True:
            try:
                if on_delivery is None:
                    self._producer.produce(topic, value, key, headers=headers)
                else:
                    self._producer.produce(
                        topic, value, key, headers=headers, on_delivery=on_delivery
                    )
                return
            except BufferError:
                # The local queue is full: serve delivery reports until there is room.
                self._producer.poll(0.05)

    def _on_event(
        self, token: Token, change_type: str | None
    ) -> Callable[[KafkaError | None, Message], None]:
        started = time.perf_counter()
        tracker = self.tracker
        channel = self._channel

        def delivered(error: KafkaError | None, _message: Message) -> None:
            if error is not None:
                tracker.fail(token, f"Kafka delivery failed: {error.str()}")
                return
            tracker.ack(token)
            self._latency.observe(time.perf_counter() - started)
            if change_type is not None:
                metrics.EVENTS_PRODUCED.labels(channel, change_type).inc()

        return delivered
