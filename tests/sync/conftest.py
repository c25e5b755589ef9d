"""Servers for the sync tests: a seeded org simulator, a Stripe emulator, and the whole stack."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from cpqsync_sandbox.datasets import default_dataset
from cpqsync_sandbox.org.simulator import OrgSimulator
from cpqsync_sandbox.stripe_emulator import StripeEmulator
from tests.sync.stack import Stack, open_stack


@pytest.fixture
def org() -> Iterator[OrgSimulator]:
    with OrgSimulator(dataset=default_dataset()) as sim:
        yield sim


@pytest.fixture
def emulator() -> Iterator[StripeEmulator]:
    with StripeEmulator() as emu:
        yield emu


@pytest.fixture
def stack(
    org: OrgSimulator, emulator: StripeEmulator, kafka: str, unique: Callable[[str], str]
) -> Iterator[Stack]:
    yield from open_stack(org, emulator, kafka, unique("sync"))
