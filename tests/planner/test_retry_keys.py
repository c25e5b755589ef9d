"""A retry after a crash must reuse the first attempt's keys for objects it may have created."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.planner.scenario_loader import merge, plan_scenario

SCENARIOS = Path(__file__).parents[1] / "scenarios"


def test_an_invoice_keeps_its_key_once_the_customer_it_created_exists() -> None:
    # Regression (chaos): attempt 1 planned customer + invoice with the customer as a
    # placeholder, created both and died before finalizing; the retry knew the customer, planned
    # its literal id, got a new key and left the first invoice behind as a draft beside a second.
    scenario = yaml.safe_load((SCENARIOS / "one_time_only_order_invoice.yaml").read_text())
    first = plan_scenario(scenario)
    account_id = next(op.source.id for op in first.operations if op.kind == "customer.create")
    known = {"context": {"known": {"customers": {account_id: {"id": "cus_created"}}}}}
    retry = plan_scenario(merge(scenario, known))

    def invoice_key(plan: object) -> str:
        return next(
            op.idempotency_key
            for op in plan.operations  # type: ignore[attr-defined]
            if op.kind == "invoice.create"
        )

    assert "customer.create" not in {op.kind for op in retry.operations}
    assert invoice_key(first) == invoice_key(retry)
