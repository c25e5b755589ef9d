"""Fixtures every suite can use: a real Kafka broker and unique names on it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cpqsync.kafka.topics import ensure_topics
from tests.support.kafka_env import FAST_GROUP_CONFIG, kafka_bootstrap


@pytest.fixture(scope="session")
def kafka() -> Iterator[str]:
    """Bootstrap servers of a real Kafka-protocol broker for the whole session.

    Tests isolate themselves with unique topic and group names (see ``new_topic``),
    so sharing one broker never lets a test see another's leftovers.
    """
    with kafka_bootstrap() as servers:
        yield servers


@pytest.fixture
def fast_group_config() -> dict[str, Any]:
    return dict(FAST_GROUP_CONFIG)


@pytest.fixture
def unique() -> Callable[[str], str]:
    def make(prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:10]}"

    return make


@pytest.fixture
def new_topic(kafka: str, unique: Callable[[str], str]) -> Callable[..., str]:
    """Create a fresh topic with a unique name and return its name."""

    def make(prefix: str = "t", partitions: int = 1, config: dict[str, str] | None = None) -> str:
        name = unique(prefix)
        ensure_topics(kafka, {name: config or {}}, partitions=partitions)
        return name

    return make
