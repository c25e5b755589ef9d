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


def test_a_line_price_left_by_a_crash_that_the_plan_no_longer_uses_is_archived() -> None:
    # Regression (chaos): an attempt created a line's own price and was killed before the
    # schedule; by the redelivery the line matched its entry's price again (P6), so the plan
    # used the entry's price and the orphan stayed active for ever.
    scenario = yaml.safe_load((SCENARIOS / "quarterly_line_gets_its_own_price.yaml").read_text())
    base = plan_scenario(scenario)
    line_id = next(op.source.id for op in base.operations if op.source.object_type == "OrderItem")
    orphan = {
        "id": "price_orphan",
        "price": {
            "id": "price_orphan",
            "active": True,
            "unit_amount_decimal": "1",  # no longer what the line needs
            "metadata": {"salesforce_line_price": "true", "salesforce_order_item_id": line_id},
        },
    }
    known = {"context": {"known": {"line_prices": {line_id: orphan}}}}
    plan = plan_scenario(merge(scenario, known))
    archives = [
        op for op in plan.operations if op.kind == "price.update" and op.target == "price_orphan"
    ]
    assert len(archives) == 1 and archives[0].params == {"active": False}
    kinds = [op.kind for op in plan.operations]
    assert kinds.index("price.update") > kinds.index("subscription_schedule.create")


def test_invoice_items_keep_their_keys_once_what_they_name_exists() -> None:
    # Regression (long chaos run): attempt 1 created the line's price, the invoice and its
    # items by placeholder and died before finalizing; the retry found the price and the
    # customer, named them by id, got new keys for the items and added each line twice to the
    # (replayed) draft invoice.
    scenario = yaml.safe_load((SCENARIOS / "one_time_only_order_invoice.yaml").read_text())
    first = plan_scenario(scenario)
    created = {op.kind: op for op in first.operations}
    account_id = created["customer.create"].source.id
    known: dict[str, object] = {
        "customers": {account_id: {"id": "cus_created"}},
        "products": {
            op.source.id: str(op.params["id"])
            for op in first.operations
            if op.kind == "product.create"
        },
    }
    known["prices"] = {
        op.source.id: {"id": f"price_{n}", "price": op.params}
        for n, op in enumerate(first.operations)
        if op.kind == "price.create"
    }
    retry = plan_scenario(merge(scenario, {"context": {"known": known}}))

    def item_keys(plan: object) -> list[str]:
        return [
            op.idempotency_key
            for op in plan.operations  # type: ignore[attr-defined]
            if op.kind == "invoiceitem.create"
        ]

    assert {"product.create", "price.create"}.isdisjoint(op.kind for op in retry.operations)
    assert len(item_keys(first)) == 2
    assert item_keys(first) == item_keys(retry)


def test_a_discounted_invoice_and_item_keep_their_keys_once_their_coupons_exist() -> None:
    # A5 on an invoice (O3): attempt 1 created the coupons and the invoice and its items naming
    # them by placeholder, then died before finalizing; the retry finds the coupons by their
    # deterministic ids and names them by id. A new key would leave the first draft invoice
    # behind beside a second one (and add the discounted line to the replayed draft twice).
    scenario = yaml.safe_load((SCENARIOS / "one_time_only_order_and_line_coupons.yaml").read_text())
    first = plan_scenario(scenario)
    coupons = {
        op.source.id: {**op.params, "amount_off": op.params.get("amount_off")}
        for op in first.operations
        if op.kind == "coupon.create"
    }
    for held in coupons.values():
        for term in ("percent_off", "currency", "duration_in_months", "max_redemptions"):
            held.setdefault(term, None)
    retry = plan_scenario(merge(scenario, {"context": {"known": {"coupons": coupons}}}))

    def keys(plan: object) -> list[str]:
        return [
            op.idempotency_key
            for op in plan.operations  # type: ignore[attr-defined]
            if op.kind in ("invoice.create", "invoiceitem.create")
        ]

    assert len(coupons) == 2
    assert "coupon.create" not in {op.kind for op in retry.operations}
    discounted = next(op for op in retry.operations if op.params.get("discounts"))
    assert discounted.params["discounts"] == [{"coupon": "sf_coupon_a0O000000000001AAA"}]
    assert len(keys(first)) == 3
    assert keys(first) == keys(retry)
