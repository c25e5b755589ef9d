"""A REST-only org simulator per test (the writeback never subscribes to change events)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cpqsync.sandbox.org.simulator import OrgSimulator


@pytest.fixture
def org() -> Iterator[OrgSimulator]:
    with OrgSimulator(start_pubsub=False) as sim:
        yield sim
