"""A renewed CPQ contract end to end (rule A3): org simulator -> bridge -> Kafka -> sync ->
Stripe emulator -> writeback. The renewal order starts a schedule of its own; the renewed
contract's schedule is left as it was."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.sync.stack import Stack
from tests.sync.test_contract_end_to_end import (
    _month_start,
    _new_order,
    _schedule_of,
    _wait_for_phases,
    _written,
    running,  # noqa: F401 - the fixture
)

pytestmark = pytest.mark.integration


def _midnight(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


def test_renewal_order_starts_its_own_schedule(running: Stack) -> None:  # noqa: F811
    org, stack = running.org, running
    today = dt.datetime.now(dt.UTC).date()
    first_day = _month_start(today, 3)
    initial, _ = _new_order(org, first_day)
    org.activate_order(initial)
    contract = org.contract_order(initial)
    renewed = _wait_for_phases(stack, initial, [[5]])
    _written(org, initial, renewed["id"])

    renewal = org.renew_contract(contract)
    org.activate_order(renewal)
    org.contract_order(renewal)
    schedule = _wait_for_phases(stack, renewal, [[5]])
    _written(org, renewal, schedule["id"])

    assert schedule["id"] != renewed["id"]
    next_term = _month_start(today, 3 - 12)  # the renewed contract's end
    assert schedule["phases"][0]["start_date"] == _midnight(next_term)
    assert schedule["phases"][0]["end_date"] == _midnight(_month_start(today, 3 - 24))
    assert schedule["end_behavior"] == "cancel"
    assert schedule["status"] == "not_started"  # billed from its start date, not before
    # The renewed contract's schedule still has its one phase, ending where the renewal starts.
    old = _schedule_of(stack, initial)
    assert old is not None
    assert [len(p["items"]) for p in old["phases"]] == [1]
    assert old["phases"][-1]["end_date"] == _midnight(next_term)
    assert len(stack.stripe.objects("subscription_schedule")) == 2
