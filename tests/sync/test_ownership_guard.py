"""A member that lost a root's partition sends nothing more for it (the root stage's single
writer): the applier asks before each stage of a plan whether the work is still its own."""

from __future__ import annotations

from typing import cast

import pytest

from consumer.sync.apply import OwnershipLost, PlanApplier
from consumer.sync.planning.plan import Operation, Plan, SourceRecord
from consumer.sync.stripe_calls import StripeCaller

ACCOUNT = SourceRecord("Account", "001000000000001AAA")


class _NoCalls:
    """A caller that fails the test if anything reaches Stripe."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"Stripe was called ({name}) after the partition was revoked")


def test_a_revoked_member_sends_no_stage_of_its_plan() -> None:
    plan = Plan(
        ACCOUNT,
        (Operation("customer", "customer.create", {"name": "Acme"}, ACCOUNT, "key-1"),),
    )
    applier = PlanApplier(cast(StripeCaller, _NoCalls()), parallelism=1)
    try:
        with pytest.raises(OwnershipLost):
            applier.apply(plan, still_owned=lambda: False)
    finally:
        applier.close()
