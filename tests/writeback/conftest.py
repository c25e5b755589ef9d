"""Fixtures for the writeback tests: a REST-only org and a harness that runs the service."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from cpqsync.settings import Settings
from cpqsync_sandbox.org.simulator import OrgSimulator
from schemas.models import SyncResult
from tests.writeback.support import produce, settings_for, start_service, wait_consumed


@pytest.fixture
def org() -> Iterator[OrgSimulator]:
    with OrgSimulator(start_pubsub=False) as sim:  # the writeback never subscribes to CDC
        yield sim


class Harness:
    """A fresh results topic and dead-letter topic, and the service run against them."""

    def __init__(
        self,
        kafka: str,
        org: OrgSimulator,
        new_topic: Callable[..., str],
        unique: Callable[[str], str],
        client_config: dict[str, Any],
    ) -> None:
        self.kafka = kafka
        self.org = org
        self.topic = new_topic("results")
        self.dlq = new_topic("dlq")
        self._unique = unique
        self._client_config = client_config

    def settings(self, **writeback: Any) -> Settings:
        return settings_for(self.org, self.kafka, **writeback)

    def produce(self, results: Iterable[SyncResult]) -> None:
        produce(self.kafka, self.topic, results)

    @contextmanager
    def running(
        self, settings: Settings | None = None, registry: CollectorRegistry | None = None
    ) -> Iterator[Callable[[], None]]:
        """Run a new consumer group; yields a function that waits until it consumed the topic."""
        group = self._unique("writeback")
        service = start_service(
            settings or self.settings(),
            self.kafka,
            self.topic,
            self.dlq,
            group,
            self._client_config,
            registry,
        )
        try:
            yield lambda: wait_consumed(self.kafka, group, self.topic)
        finally:
            service.stop()

    def run(
        self, settings: Settings | None = None, registry: CollectorRegistry | None = None
    ) -> None:
        """Consume everything on the topic with a new group, then stop."""
        with self.running(settings, registry) as consumed:
            consumed()


@pytest.fixture
def writeback(
    kafka: str,
    org: OrgSimulator,
    new_topic: Callable[..., str],
    unique: Callable[[str], str],
    fast_group_config: dict[str, Any],
) -> Harness:
    return Harness(kafka, org, new_topic, unique, fast_group_config)
