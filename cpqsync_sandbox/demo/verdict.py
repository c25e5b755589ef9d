"""Did every order end as the dataset says it should?

A good order must carry its Stripe id on the Order and a Success Sync Record; a
deliberately bad one must have an Error Sync Record whose message contains the
dataset's ``_expected_error``. An order is *settled* once its Sync Record says
Success (with the Stripe id written) or anything final other than that; only
then is it judged, so the demo waits for the writeback before deciding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cpqsync_sandbox.demo.expectations import OrderExpectation
from cpqsync_sandbox.demo.org_client import OrderState


@dataclass(frozen=True)
class OrderVerdict:
    expectation: OrderExpectation
    state: OrderState | None
    settled: bool
    problem: str | None  # None: ended as expected

    @property
    def ok(self) -> bool:
        return self.settled and self.problem is None


def judge(
    expectation: OrderExpectation,
    state: OrderState | None,
    contract: OrderState | None = None,
) -> OrderVerdict:
    """``contract``: for an amendment or a renewal order, its contract's initial order."""
    settled = _settled(state)
    problem = _problem(expectation, state) if settled else "not synced yet"
    if problem is None and expectation.amends is not None:
        problem = _amendment_problem(state, contract)
    if problem is None and expectation.renews is not None:
        problem = _renewal_problem(state, contract)
    return OrderVerdict(expectation, state, settled, problem)


def judge_all(
    expectations: Sequence[OrderExpectation], states: Mapping[str, OrderState]
) -> list[OrderVerdict]:
    return [
        judge(e, states.get(e.order_id), states.get(e.follows) if e.follows else None)
        for e in expectations
    ]


def _amendment_problem(state: OrderState | None, contract: OrderState | None) -> str | None:
    """An amendment order names its contract's schedule (A1): the initial order's."""
    have = state.stripe_id if state else None
    want = contract.stripe_id if contract else None
    if have != want:
        return f"names {have}, but its contract's schedule is {want}"
    return None


def _renewal_problem(state: OrderState | None, renewed: OrderState | None) -> str | None:
    """A renewal order starts a schedule of its own (A3), never the renewed contract's."""
    have = state.stripe_id if state else None
    old = renewed.stripe_id if renewed else None
    if have is None or not have.startswith("sub_sched_"):
        return f"names {have}, not a subscription schedule of its own"
    if have == old:
        return f"names {have}, the renewed contract's schedule, not one of its own"
    return None


def _settled(state: OrderState | None) -> bool:
    if state is None or state.sync_status is None:
        return False
    if state.sync_status == "Success":
        return state.stripe_id is not None
    return True


def _problem(expectation: OrderExpectation, state: OrderState | None) -> str | None:
    assert state is not None and state.sync_status is not None
    status, message = state.sync_status, state.sync_message or ""
    if expectation.expected_error is None:
        if status != "Success":
            return f"expected Success, got {status}: {message}"
        return None
    if status != "Error":
        return f"expected Error ({expectation.expected_error!r}), got {status}"
    if expectation.expected_error not in message:
        return f"Error message {message!r} does not contain {expectation.expected_error!r}"
    return None
