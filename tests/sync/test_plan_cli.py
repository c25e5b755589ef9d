"""``cpqsync plan``: hydrate from the org simulator and print the plan, nothing sent to Stripe."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from cpqsync.app.cli.app import app
from cpqsync_sandbox.org.cpq_actions import AmendmentLine
from cpqsync_sandbox.org.simulator import OrgSimulator
from tests.sync.stack import salesforce_env


@pytest.fixture
def org_env(org: OrgSimulator, monkeypatch: pytest.MonkeyPatch) -> OrgSimulator:
    monkeypatch.delenv("CPQSYNC_CONFIG", raising=False)
    for name, value in salesforce_env(org).items():
        monkeypatch.setenv(name, value)
    return org


def test_plan_prints_the_operations_an_order_needs(org_env: OrgSimulator) -> None:
    order_id = org_env.dataset.id("order_acme")
    org_env.activate_order(order_id)
    result = CliRunner().invoke(app, ["plan", order_id])
    assert result.exit_code == 0, result.output
    assert f"Plan for Order {order_id}: ready" in result.output
    assert "subscription_schedule.create" in result.output
    as_json = CliRunner().invoke(app, ["plan", order_id, "--json"])
    plan = json.loads(as_json.output)
    kinds = [op["kind"] for op in plan["operations"]]
    assert kinds[0] == "customer.create" and "subscription_schedule.create" in kinds


def test_plan_of_a_bad_order_shows_the_error_and_fails(org_env: OrgSimulator) -> None:
    order_id = org_env.dataset.id("order_no_quote")
    org_env.activate_order(order_id)
    result = CliRunner().invoke(app, ["plan", order_id])
    assert result.exit_code == 1
    assert "There's no CPQ quote associated with this order" in result.output


def test_plan_refuses_an_id_that_is_not_a_record_it_can_sync(org_env: OrgSimulator) -> None:
    result = CliRunner().invoke(app, ["plan", "003000000000001AAA"])
    assert result.exit_code == 2
    assert "key prefix is 003" in result.output


def test_plan_while_salesforce_cannot_answer_says_so_in_one_line(org_env: OrgSimulator) -> None:
    order_id = org_env.dataset.id("order_acme")
    org_env.set_unavailable()
    result = CliRunner().invoke(app, ["plan", order_id])
    assert result.exit_code == 1
    assert "cpqsync plan: salesforce cannot answer now" in result.output
    assert "SERVER_UNAVAILABLE" in result.output or "503" in result.output
    assert "(check salesforce.login_url and the org's status)" in result.output
    assert "Traceback" not in result.output


def test_plan_of_an_amendment_shows_its_contracts_whole_schedule(org_env: OrgSimulator) -> None:
    """Rule A1: the dry run plans an amendment as its contract's schedule, as the sync does."""
    order_id = org_env.dataset.id("order_acme")
    org_env.activate_order(order_id)
    contract = org_env.contract_order(order_id)
    [line] = org_env.query(
        "SELECT Id FROM OrderItem WHERE SBQQ__ChargeType__c = 'Recurring' "
        f"AND OrderId = '{order_id}' ORDER BY Id LIMIT 1"
    ).records
    start = org_env.get("Contract", contract)["StartDate"]
    index = start.year * 12 + start.month - 1 + 3
    later = dt.date(index // 12, index % 12 + 1, min(start.day, 28))
    amendment = org_env.amend_contract(contract, later, [AmendmentLine(2, revises=line["Id"])])
    org_env.activate_order(amendment)
    result = CliRunner().invoke(app, ["plan", amendment, "--json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    [schedule] = [op for op in plan["operations"] if op["kind"] == "subscription_schedule.create"]
    phases = schedule["params"]["phases"]
    quantities = [[i.get("quantity") for i in p["items"]] for p in phases]
    assert len(phases) == 2 and quantities[1][0] == quantities[0][0] + 2
