"""The one table of Stripe operation kinds covers every kind a plan may hold, and only those."""

from __future__ import annotations

import pytest

from consumer.sync.stripe_operations import (
    OPERATION_KINDS,
    UnknownOperationKind,
    operation_kind,
)
from cpqsync.mapping.stripe_schema import ENDPOINT_PARAMS


def test_every_kind_the_planner_may_emit_has_a_row() -> None:
    assert set(OPERATION_KINDS) == set(ENDPOINT_PARAMS)
    for name, kind in OPERATION_KINDS.items():
        assert kind.params is ENDPOINT_PARAMS[name]


def test_updates_act_on_an_existing_object_and_creates_do_not() -> None:
    for kind in OPERATION_KINDS.values():
        if kind.updates:
            assert kind.targets_existing, kind.name
        assert kind.verb == ("updated" if kind.targets_existing else "created")


def test_an_unknown_kind_is_named_in_the_error() -> None:
    with pytest.raises(UnknownOperationKind, match=r"refund\.create"):
        operation_kind("refund.create")
