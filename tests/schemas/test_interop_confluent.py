"""Confluent's own serializers and our codec read each other's messages through a real broker.

Both sides share one confluent-kafka in-memory registry (``mock://``), which is
how a deployment with a schema registry behaves; the messages cross a real
Kafka-protocol broker so headers, framing and bytes are exactly what ships.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import (
    Consumer,
    DeserializingConsumer,
    Message,
    Producer,
    SerializingProducer,
    TopicPartition,
)
from confluent_kafka.schema_registry import SchemaRegistryClient, topic_subject_name_strategy
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import StringDeserializer, StringSerializer

from schemas.codec import Codec
from schemas.headers import schema_header
from schemas.models import ChangeEvent, ChangeType
from tests.schemas.samples import order_change_event

pytestmark = pytest.mark.integration

AVSC = Path(__file__).resolve().parents[2] / "schemas" / "avro" / "ChangeEvent.avsc"


def first_message(consumer: Consumer, topic: str, timeout_s: float = 30.0) -> Message:
    consumer.assign([TopicPartition(topic, 0, 0)])
    try:
        deadline = dt.datetime.now() + dt.timedelta(seconds=timeout_s)
        while dt.datetime.now() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                return message
        raise AssertionError(f"no message on {topic} within {timeout_s}s")
    finally:
        consumer.close()


def consumer_config(kafka: str, group: str) -> dict[str, Any]:
    return {"bootstrap.servers": kafka, "group.id": group, "enable.auto.commit": False}


def test_serializing_producer_to_our_codec(kafka: str, new_topic: Any, unique: Any) -> None:
    registry = SchemaRegistryClient.new_client({"url": "mock://interop-in"})
    topic = new_topic("interop-in")
    serializer = AvroSerializer(
        registry, AVSC.read_text(), conf={"subject.name.strategy": topic_subject_name_strategy}
    )
    producer = SerializingProducer(
        {
            "bootstrap.servers": kafka,
            "key.serializer": StringSerializer(),
            "value.serializer": serializer,
        }
    )
    moment = dt.datetime(2026, 2, 3, 4, 5, 6, 789000, tzinfo=dt.UTC)
    # What a third-party producer would send: plain dicts and strings, no cpqsync types.
    producer.produce(
        topic,
        key="8015g00000ABCDEFGH",
        value={
            "object_type": "Order",
            "record_id": "8015g00000ABCDEFGH",
            "change_type": "DELETE",
            "changed_fields": [],
            "nulled_fields": [],
            "diff_fields": [],
            "values": {},
            "commit_timestamp": moment,
            "commit_number": 77,
            "transaction_key": "tx-1",
            "sequence_number": 2,
            "change_origin": None,
            "commit_user": "0055g00000XYZabAAC",
            "replay_id": b"\x00\x07",
            "channel": "/data/OrderChangeEvent",
            "org_id": "00D5g00000LMNopEAA",
            "bridged_at": moment,
        },
    )
    assert producer.flush(30) == 0

    raw = first_message(Consumer(consumer_config(kafka, unique("g"))), topic)
    event = Codec(registry_client=registry).decode(raw.value(), topic)

    assert isinstance(event, ChangeEvent)
    assert event.change_type is ChangeType.DELETE
    assert event.record_id == "8015g00000ABCDEFGH"
    assert event.commit_timestamp == moment and event.replay_id == b"\x00\x07"
    assert event.sequence_number == 2 and event.commit_number == 77


def test_our_codec_to_deserializing_consumer(kafka: str, new_topic: Any, unique: Any) -> None:
    registry = SchemaRegistryClient.new_client({"url": "mock://interop-out"})
    topic = new_topic("interop-out")
    event = order_change_event()
    producer = Producer({"bootstrap.servers": kafka})
    producer.produce(
        topic,
        key=event.record_id.encode(),
        value=Codec(registry_client=registry).encode(event, topic),
        headers=[schema_header(event)],
    )
    assert producer.flush(30) == 0

    consumer = DeserializingConsumer(
        {
            **consumer_config(kafka, unique("g")),
            "key.deserializer": StringDeserializer(),
            "value.deserializer": AvroDeserializer(registry),
        }
    )
    message = first_message(consumer, topic)
    value = message.value()

    assert message.key() == event.record_id
    assert dict(message.headers() or [])["cpqsync-schema"] == b"cpqsync.ChangeEvent"
    assert value["change_type"] == "UPDATE"
    assert value["changed_fields"] == event.changed_fields
    assert value["values"] == event.values
    assert value["commit_timestamp"] == event.commit_timestamp
    assert value["org_id"] == event.org_id
