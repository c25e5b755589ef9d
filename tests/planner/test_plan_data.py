"""Plans as data: placeholders resolve, keys follow intent, rendering is readable."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from consumer.sync.planning import (
    Operation,
    PlanningContext,
    SourceRecord,
    UnresolvedReference,
    WriteBack,
    plan_order,
    ref,
    render,
    resolve_refs,
)
from consumer.sync.planning.idempotency import idempotency_key
from consumer.sync.planning.views import OrderView
from cpqsync.settings import Settings
from tests.planner.scenario_loader import build_record


def test_placeholders_resolve_from_earlier_results_anywhere_in_params() -> None:
    params = {"customer": ref("customer"), "phases": [{"items": [{"price": ref("price:x")}]}]}
    resolved = resolve_refs(params, {"customer": {"id": "cus_1"}, "price:x": {"id": "price_9"}})
    assert resolved == {"customer": "cus_1", "phases": [{"items": [{"price": "price_9"}]}]}
    assert params["customer"] == {"$ref": "customer.id"}  # the plan itself is untouched


def test_a_placeholder_without_result_is_an_error() -> None:
    with pytest.raises(UnresolvedReference):
        resolve_refs({"customer": ref("customer")}, {})


def test_same_intent_same_key_and_changed_intent_new_key() -> None:
    a = idempotency_key("001A", "customer.update", {"name": "Acme", "phone": "1"}, "cus_1")
    b = idempotency_key("001A", "customer.update", {"phone": "1", "name": "Acme"}, "cus_1")
    assert a == b
    assert a.startswith("cpqsync:001A:customer.update:")
    assert a != idempotency_key(
        "001A", "customer.update", {"name": "Acme Ltd", "phone": "1"}, "cus_1"
    )
    assert a != idempotency_key("001A", "customer.update", {"name": "Acme", "phone": "1"}, "cus_2")
    assert a != idempotency_key("001B", "customer.update", {"name": "Acme", "phone": "1"}, "cus_1")


def _context(**sync: object) -> PlanningContext:
    return PlanningContext(
        settings=Settings(sync=sync), now=dt.datetime(2026, 3, 10, 15, tzinfo=dt.UTC)
    )


def test_a_changed_price_changes_only_the_keys_of_what_it_touches() -> None:
    before = plan_order(
        OrderView.of(build_record({"lines": [{"UnitPrice": 1200}]})), context=_context()
    )
    after = plan_order(
        OrderView.of(build_record({"lines": [{"UnitPrice": 2400}]})), context=_context()
    )
    keys_before = {op.id: op.idempotency_key for op in before.operations}
    keys_after = {op.id: op.idempotency_key for op in after.operations}
    assert keys_before["customer"] == keys_after["customer"]
    assert keys_before["product:01t000000000001AAA"] == keys_after["product:01t000000000001AAA"]
    assert keys_before["subscription_schedule"] != keys_after["subscription_schedule"]


def test_render_lists_operations_writebacks_and_errors() -> None:
    plan = plan_order(OrderView.of(build_record({"lines": [{}]})), context=_context())
    text = render(plan)
    assert text.startswith("Plan for Order 801000000000001AAA: ready, 4 operation(s)")
    assert "subscription_schedule.create" in text
    assert "customer: <customer.id>" in text
    assert "writes id to Account.Stripe_ID__c" in text
    failed = plan_order(
        OrderView.of(build_record({"lines": [{"SBQQ__BillingFrequency__c": "Invoice Plan"}]})),
        context=_context(),
    )
    assert "error [P3] OrderItem 802000000000001AAA: Data Error: Billing frequency" in render(
        failed
    )


def test_plan_records_stay_immutable_values() -> None:
    """Operations, source records and write-backs fill their fields by hand (for speed); they
    must still behave as the frozen dataclasses they are declared as."""
    record = SourceRecord("Order", "801A")
    writeback = WriteBack(record, "Stripe_ID__c")
    op = Operation(
        "schedule", "subscription_schedule.create", {"a": 1}, record, "k", None, (writeback,)
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        op.kind = "invoice.create"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.id = "801B"  # type: ignore[misc]
    assert op == Operation.from_dict(op.to_dict())
    assert dataclasses.replace(op, id="other").id == "other"
    assert {record: 1}[SourceRecord("Order", "801A")] == 1
    assert writeback == WriteBack(SourceRecord("Order", "801A"), "Stripe_ID__c", "id")
    assert repr(record) == "SourceRecord(object_type='Order', id='801A')"
