"""A deployment of cpqsync's topics under a unique prefix, and the CLI pointed at it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from confluent_kafka import Consumer, Message, TopicPartition
from typer.testing import CliRunner, Result

from cpqsync.app.cli.app import app
from cpqsync.kafka.offsets import end_offsets
from cpqsync.kafka.topics import Topics, ensure_topics

PARTITIONS = 2


@dataclass(frozen=True)
class Deployment:
    bootstrap: str
    topics: Topics
    config: Path

    def cli(self, *args: str, input: str | None = None) -> Result:
        # Wide enough that rich never wraps a topic name inside a table cell.
        return CliRunner().invoke(
            app, [*args, "--config", str(self.config)], input=input, env={"COLUMNS": "200"}
        )

    def committed(self, group: str, topic: str) -> dict[int, int]:
        probe = Consumer({"bootstrap.servers": self.bootstrap, "group.id": group})
        try:
            found = probe.committed(
                [TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=10
            )
        finally:
            probe.close()
        return {tp.partition: tp.offset for tp in found}

    def commit(self, group: str, offsets: dict[tuple[str, int], int]) -> None:
        """Commit like a consumer that processed this far and stopped (it never joins)."""
        committer = Consumer(
            {"bootstrap.servers": self.bootstrap, "group.id": group, "enable.auto.commit": False}
        )
        try:
            committer.commit(
                offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()],
                asynchronous=False,
            )
        finally:
            committer.close()


def table_rows(output: str) -> list[list[str]]:
    """The cells of every row of the rich tables in ``output``."""
    return [
        [cell.strip() for cell in line.strip().strip("│").split("│")]
        for line in output.splitlines()
        if line.strip().startswith("│")
    ]


@pytest.fixture
def deployment(kafka: str, unique: Callable[[str], str], tmp_path: Path) -> Deployment:
    topics = Topics(unique("ops"))
    ensure_topics(kafka, topics.all_topics(), partitions=PARTITIONS)
    config = tmp_path / "cpqsync.yaml"
    config.write_text(
        yaml.safe_dump({"kafka": {"bootstrap_servers": kafka, "topic_prefix": topics.prefix}})
    )
    return Deployment(kafka, topics, config)


def read_all(bootstrap: str, topic: str, partition: int) -> list[Message]:
    """Every record of one partition, read with a plain consumer up to its true end."""
    end = end_offsets(bootstrap, [TopicPartition(topic, partition)])[(topic, partition)]
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "ops-test-reader"})
    consumer.assign([TopicPartition(topic, partition, 0)])
    records: list[Message] = []
    deadline = time.monotonic() + 20
    try:
        while len(records) < end and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                records.append(message)
    finally:
        consumer.close()
    return records
