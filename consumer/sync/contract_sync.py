"""An order of an amended CPQ contract is synced as its contract's whole schedule (A1, A2).

When the order being synced belongs to a contract (``Order.ContractId``), the contract's orders
are read again (inside the contract's lock, so two orders of one contract synced at the same
time in this process plan one after the other, each from what the other left), Stripe is asked
about all of them, and ``plan_contract`` derives the schedule from the initial order and every
activated amendment. An initial order whose contract has no activated amendment is left to the
order planner (its plan is the same, one phase, and it keeps its order's idempotency keys).

Across processes, the root stage's work is keyed by the contract's initial order
(``billing_roots``), so one member at a time syncs a contract; and each sync re-derives the
whole schedule, so the last sync of a contract's orders leaves the schedule right.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from consumer.sync.contract_schedules import known_schedule
from consumer.sync.hydration import Hydrator
from consumer.sync.planning import (
    ContractOrders,
    Issue,
    KnownStripeObjects,
    Plan,
    PlanningContext,
    SourceRecord,
    plan_contract,
)
from consumer.sync.planning.renewals import is_renewal
from consumer.sync.planning.views import OrderView
from consumer.sync.root_locks import RootLocks
from consumer.sync.stripe_lookup import StripeLookup, StripeView
from consumer.sync.triggers import RecordRef


@dataclasses.dataclass(frozen=True)
class ContractPlan:
    plan: Plan
    view: StripeView
    # The contract's schedule, once it exists: what an order already in sync reports.
    existing: tuple[str, str] | None


class ContractSync:
    """Thread-safe."""

    def __init__(self, hydrator: Hydrator, lookup: StripeLookup | None, *, sandbox: bool) -> None:
        """Without ``lookup`` (a dry run from Salesforce alone) nothing in Stripe is known."""
        self._hydrator = hydrator
        self._lookup = lookup
        self._sandbox = sandbox
        self._locks = RootLocks()

    @contextmanager
    def holding(self, order: Mapping[str, Any]) -> Iterator[None]:
        """The contract's lock when ``order`` belongs to one (else nothing to hold)."""
        contract = order.get("ContractId")
        if not contract:
            yield
            return
        with self._locks.holding([RecordRef("Contract", str(contract)[:15])]):
            yield

    def plan(
        self,
        order: Mapping[str, Any],
        context_for: Callable[[StripeView], PlanningContext],
        *,
        deep: bool,
    ) -> ContractPlan | None:
        """The contract's plan for ``order``'s sync; None when the order planner does it."""
        contract = order.get("ContractId")
        parent = order.get("Contract")
        initial_id = str(parent.get("SBQQ__Order__c") or "") if isinstance(parent, dict) else ""
        amendment = order.get("Type") == "Amendment"
        if not contract or not initial_id:
            # An amendment's lines are changes: planned as an order of its own they would bill
            # the changes as totals.
            return (
                _unplannable(order, "names no contract with an initial order")
                if amendment
                else None
            )
        if not _same(order["Id"], initial_id) and is_renewal(OrderView.of(order)):
            return None  # A3: a renewal starts a contract of its own, never amends this one
        orders = self._hydrator.contract_orders(str(contract))
        initial = next((o for o in orders if _same(o["Id"], initial_id)), None)
        if initial is None:
            # CPQ may leave the initial order's own ContractId empty: read it by id.
            found = self._hydrator.hydrate([RecordRef("Order", initial_id)])
            initial = next(iter(found.values()), None)
            if initial is not None:
                orders = [initial, *orders]
        amendments = tuple(o for o in orders if o.get("Type") == "Amendment")
        is_initial = _same(order["Id"], initial_id)
        if initial is None:
            return (
                _unplannable(
                    order, f"amends a contract whose initial order {initial_id} cannot be read"
                )
                if amendment
                else None
            )
        if is_initial and not any(a.get("Status") == "Activated" for a in amendments):
            return None
        refs = {RecordRef("Order", str(o["Id"])): o for o in orders}
        view = (
            self._lookup.view(refs, deep=deep)
            if self._lookup is not None
            else StripeView(KnownStripeObjects())
        )
        ids = [str(initial["Id"]), *(str(a["Id"]) for a in amendments)]
        schedule_id = next(
            (view.known.schedules[i] for i in ids if i in view.known.schedules), None
        )
        known = view.known
        if schedule_id is not None and schedule_id in view.current:
            held = known_schedule(view.current[schedule_id], sandbox=self._sandbox)
            known = dataclasses.replace(known, contract_schedules={str(initial["Id"]): held})
        context = dataclasses.replace(context_for(view), known=known)
        # The contract's orders as the planner reads them (``planning.views``).
        contract_orders = ContractOrders(
            OrderView.of(initial), tuple(OrderView.of(a) for a in amendments)
        )
        plan = plan_contract(contract_orders, order_id=str(order["Id"]), context=context)
        existing: tuple[str, str] | None = (
            ("subscription_schedule", schedule_id) if schedule_id else None
        )
        started = next((view.subscriptions[i] for i in ids if i in view.subscriptions), None)
        if started is not None:  # an evergreen contract names its subscription (A4)
            existing = ("subscription", started)
        return ContractPlan(plan, view, existing)


def _unplannable(order: Mapping[str, Any], why: str) -> ContractPlan:
    root = SourceRecord("Order", str(order["Id"]))
    issue = Issue("A1", f"Data Error: Amendment order {order['Id']} {why}", root)
    return ContractPlan(Plan(root, errors=(issue,)), StripeView(KnownStripeObjects()), None)


def _same(a: Any, b: str) -> bool:
    return str(a)[:15] == b[:15]
