"""`cpqsync dlq` on a real broker, with dead letters in each envelope the code writes today."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from confluent_kafka import Producer

from consumer.dead_letter_envelope import envelope_headers
from consumer.engine.dead_letter import DeadLetters
from consumer.engine.messages import Message as EngineMessage
from schemas import headers as h
from schemas.dead_letter import HEADER_NAMES, to_headers
from schemas.models import DeadLetter
from tests.ops.conftest import Deployment, read_all

pytestmark = pytest.mark.integration

KEY = b"801000000000001AAA"
VALUE = b"\xc3\x01not avro at all"
ORIGINAL_HEADERS: list[tuple[str, str | bytes | None]] = [
    ("cpqsync-trace-id", b"trace-1"),
    ("cpqsync-schema", b"cpqsync.ChangeEvent"),
]
CHANNEL = "/data/OrderChangeEvent"


@pytest.fixture
def letters(deployment: Deployment) -> Deployment:
    """Three dead letters on partition 0: contract (0:0), engine (0:1), bridge (0:2)."""
    order_topic = deployment.topics.object_topic("Order")
    contract = DeadLetter(
        origin_topic=order_topic,
        origin_partition=1,
        origin_offset=42,
        error_class="schemas.errors.SchemaDecodeError",
        error_message="wrong marker byte",
        first_failed_at=dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC),
        attempts=3,
    )
    engine = DeadLetters(
        deployment.topics.dlq, "cpqsync-sync", 50, envelope=envelope_headers
    ).record(
        EngineMessage(
            topic=order_topic,
            partition=0,
            offset=7,
            key=KEY,
            value=None,
            raw_value=VALUE,
            headers=(("cpqsync-trace-id", b"trace-1"), ("cpqsync-schema", b"cpqsync.ChangeEvent")),
            timestamp_ms=1_714_564_800_000,
        ),
        ValueError("handler gave up"),
    )
    bridge: list[tuple[str, str | bytes | None]] = [
        (h.DLQ_ORIGIN_TOPIC_HEADER, CHANNEL.encode()),
        (h.DLQ_ERROR_CLASS_HEADER, b"ChangeEventDecodeError"),
        (h.DLQ_ERROR_MESSAGE_HEADER, b"unknown schema id"),
        (h.DLQ_FIRST_FAILED_AT_HEADER, b"1714564800000"),
    ]
    producer = Producer({"bootstrap.servers": deployment.bootstrap})
    dlq = deployment.topics.dlq
    producer.produce(dlq, VALUE, KEY, 0, headers=[*ORIGINAL_HEADERS, *to_headers(contract)])
    producer.flush()
    producer.produce(dlq, engine.value, engine.key, 0, headers=list(engine.headers))
    producer.flush()
    producer.produce(dlq, b"salesforce avro", b"\x00\x01", 0, headers=bridge)
    assert producer.flush(10) == 0
    return deployment


def test_list_reads_every_envelope(letters: Deployment) -> None:
    order_topic = letters.topics.object_topic("Order")

    result = letters.cli("dlq", "list", "--json")

    assert result.exit_code == 0, result.output
    listed = {entry["ref"]: entry for entry in json.loads(result.output)}
    assert set(listed) == {"0:0", "0:1", "0:2"}
    assert listed["0:0"]["envelope"] == "contract"
    assert (listed["0:0"]["origin_partition"], listed["0:0"]["origin_offset"]) == (1, 42)
    assert listed["0:0"]["attempts"] == 3
    assert listed["0:1"]["origin_topic"] == order_topic
    assert listed["0:1"]["group"] == "cpqsync-sync"
    assert "handler gave up" in listed["0:1"]["error_message"]
    assert listed["0:2"]["origin_topic"] == CHANNEL
    assert "Salesforce channel" in listed["0:2"]["redrive_blocker"]
    assert listed["0:0"]["redrive_blocker"] is None


def test_list_filters_by_origin_topic(letters: Deployment) -> None:
    result = letters.cli("dlq", "list", "--json", "--origin-topic", CHANNEL)

    assert [entry["ref"] for entry in json.loads(result.output)] == ["0:2"]


def test_show_prints_the_envelope_and_the_original_headers(letters: Deployment) -> None:
    result = letters.cli("dlq", "show", "0:0")

    assert result.exit_code == 0, result.output
    assert "wrong marker byte" in result.output
    assert "header cpqsync-trace-id" in result.output
    assert f"header {h.DLQ_ORIGIN_TOPIC_HEADER}" not in result.output


def test_show_names_a_missing_reference(letters: Deployment) -> None:
    result = letters.cli("dlq", "show", "1:99")

    assert result.exit_code == 1
    assert "no dead letter at 1:99" in result.output


def test_redrive_sends_the_original_message_back_without_the_envelope(
    letters: Deployment,
) -> None:
    order_topic = letters.topics.object_topic("Order")

    result = letters.cli("dlq", "redrive", "0:0")

    assert result.exit_code == 0, result.output
    (redriven,) = read_all(letters.bootstrap, order_topic, 1)  # the origin partition
    assert redriven.key() == KEY
    assert redriven.value() == VALUE
    assert redriven.headers() == ORIGINAL_HEADERS
    assert read_all(letters.bootstrap, order_topic, 0) == []


def test_redrive_all_sends_what_it_can_and_reports_the_rest(letters: Deployment) -> None:
    order_topic = letters.topics.object_topic("Order")

    result = letters.cli("dlq", "redrive", "--all")

    assert result.exit_code == 1, "a skipped letter makes the redrive incomplete"
    assert "skipped" in result.output and "Salesforce channel" in result.output
    (from_engine,) = read_all(letters.bootstrap, order_topic, 0)
    assert (from_engine.key(), from_engine.value()) == (KEY, VALUE)
    assert from_engine.headers() == ORIGINAL_HEADERS
    assert not {str(header[0]) for header in from_engine.headers() or []} & HEADER_NAMES
    assert len(read_all(letters.bootstrap, order_topic, 1)) == 1


def test_redrive_dry_run_by_origin_topic_sends_nothing(letters: Deployment) -> None:
    order_topic = letters.topics.object_topic("Order")

    result = letters.cli("dlq", "redrive", "--origin-topic", order_topic, "--dry-run")

    assert result.exit_code == 0, result.output
    assert "2 dead letter(s) would be sent back" in result.output
    assert read_all(letters.bootstrap, order_topic, 0) == []
    assert read_all(letters.bootstrap, order_topic, 1) == []


def test_redrive_without_a_choice_is_refused(letters: Deployment) -> None:
    result = letters.cli("dlq", "redrive")

    assert result.exit_code == 1
    assert "--origin-topic or --all" in result.output
