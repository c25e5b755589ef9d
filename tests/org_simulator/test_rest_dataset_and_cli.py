"""The shipped CPQ dataset, the order generator, and ``cpqsync sandbox org`` as a script uses it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml
from simple_salesforce import Salesforce

from cpqsync_sandbox.datasets import default_dataset
from cpqsync_sandbox.org.dataset import DatasetError
from cpqsync_sandbox.org.simulator import OrgSimulator
from tests.org_simulator.rest_support import simple_salesforce

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo() -> Iterator[OrgSimulator]:
    sim = OrgSimulator(dataset=default_dataset(), start_pubsub=False)
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


def test_dataset_holds_a_realistic_cpq_org(demo: OrgSimulator) -> None:
    sf = simple_salesforce(demo)
    accounts = sf.query("SELECT Name, BillingCountry, ShippingCity FROM Account")["records"]
    assert len(accounts) >= 5 and all(a["BillingCountry"] for a in accounts)
    assert any(a["ShippingCity"] is None for a in accounts)  # one without shipping (rule C1)
    currencies = sf.query(
        "SELECT CurrencyIsoCode FROM PricebookEntry WHERE Pricebook2.IsStandard = true"
    )["records"]
    assert {e["CurrencyIsoCode"] for e in currencies} == {"USD", "EUR"}
    schedules = sf.query(
        "SELECT Type, RatingMethod, (SELECT LowerBound, UpperBound, PricingMethod, Price "
        "FROM ConsumptionRates ORDER BY ProcessingOrder) FROM ConsumptionSchedule ORDER BY Type"
    )["records"]
    assert [s["Type"] for s in schedules] == ["Range", "Slab"]
    assert schedules[0]["ConsumptionRates"]["records"][-1]["UpperBound"] is None  # up to inf
    drafts = sf.query(
        "SELECT Id, SBQQ__Quote__r.SBQQ__StartDate__c, SBQQ__Quote__r.SBQQ__SubscriptionTerm__c, "
        "(SELECT Quantity, UnitPrice, SBQQ__BillingFrequency__c, SBQQ__BillingType__c, "
        "SBQQ__SubscriptionPricing__c, SBQQ__ChargeType__c, PricebookEntryId, Product2Id, "
        "ServiceDate FROM OrderItems) FROM Order WHERE Status = 'Draft'"
    )["records"]
    assert len(drafts) == 12 and all(o["OrderItems"]["totalSize"] >= 1 for o in drafts)


def test_bad_orders_are_labelled_with_the_error_the_connector_must_report(
    demo: OrgSimulator,
) -> None:
    refs = demo.dataset.refs
    expected = {
        "order_no_quote": "There's no CPQ quote associated with this order",
        "order_invoice_plan": (
            "Billing frequency is not a supported CPQ Billing Frequency option: Invoice Plan"
        ),
        "order_metered_qty2": (
            "Order lines with a price configured for metered billing cannot have a quantity "
            "greater than 1."
        ),
    }
    for ref, message in expected.items():
        assert demo.expected_error(refs[ref]) == message
    assert demo.expected_error(refs["order_acme"]) is None
    no_quote = demo.query(f"SELECT SBQQ__Quote__c FROM Order WHERE Id = '{refs['order_no_quote']}'")
    assert no_quote.records[0]["SBQQ__Quote__c"] is None
    metered = demo.query(
        "SELECT Quantity, SBQQ__BillingType__c FROM OrderItem "
        f"WHERE OrderId = '{refs['order_metered_qty2']}'"
    )
    assert metered.records[0] == {
        **metered.records[0],
        "Quantity": 2.0,
        "SBQQ__BillingType__c": "Arrears",
    }


def test_generator_adds_valid_orders() -> None:
    with OrgSimulator(dataset=default_dataset(), generated_orders=40, start_pubsub=False) as sim:
        generated = sim.query(
            "SELECT Id, SBQQ__Quote__r.SBQQ__StartDate__c, (SELECT SBQQ__BillingFrequency__c "
            "FROM OrderItems) FROM Order WHERE Name LIKE 'Generated order%'"
        ).records
        assert len(generated) == 40
        for order in generated:
            assert order["SBQQ__Quote__r"]["SBQQ__StartDate__c"]
            frequencies = {
                i["SBQQ__BillingFrequency__c"]
                for i in order["OrderItems"]["records"]
                if i["SBQQ__BillingFrequency__c"]
            }
            assert len(frequencies) == 1  # one billing interval per order (rule O6)


def test_broken_dataset_is_reported_by_record(tmp_path: Path) -> None:
    data = {"version": 1, "records": {"Contact": [{"_ref": "c", "AccountId": "@nobody"}]}}
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(DatasetError, match=r"Contact\[0\] \(c\): reference '@nobody'"):
        OrgSimulator(dataset=path, start_pubsub=False).start()
    data["records"] = {"Account": [{"Name": "x", "NumberOfEmployees": "many"}]}
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(DatasetError, match="JSON_PARSER_ERROR"):
        OrgSimulator(dataset=path, start_pubsub=False).start()


def test_cli_prints_a_ready_line_scripts_can_connect_with() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cpqsync", "sandbox", "org", "--orders", "3"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        assert set(ready) >= {
            "rest_url",
            "grpc_target",
            "username",
            "password",
            "client_id",
            "client_secret",
            "org_id",
            "ca_cert",
        }
        assert ready["rest_url"].startswith("https://127.0.0.1:")
        session = requests.Session()
        session.verify = ready["ca_cert"]
        session.trust_env = False
        token = session.post(
            f"{ready['rest_url']}/services/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": ready["client_id"],
                "client_secret": ready["client_secret"],
            },
        ).json()
        sf = Salesforce(
            instance_url=token["instance_url"], session_id=token["access_token"], session=session
        )
        assert sf.query("SELECT COUNT() FROM Order WHERE Name LIKE 'Generated%'")["totalSize"] == 3
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    assert proc.returncode == 0


def test_contract_and_amendment_orders_are_shaped_like_cpq_creates_them() -> None:
    from datetime import UTC, datetime, timedelta

    from cpqsync_sandbox.org.cpq_actions import AmendmentLine

    with OrgSimulator(dataset=default_dataset(), start_pubsub=False) as sim:
        refs = sim.dataset.refs
        sim.activate_order(refs["order_acme"])
        contract = sim.contract_order(refs["order_acme"])
        start = datetime.now(UTC).date() + timedelta(days=60)
        # An amendment line revises the order product that first sold the subscription.
        original_line = sim.query(
            "SELECT Id FROM OrderItem "
            f"WHERE OrderId = '{refs['order_acme']}' "
            f"AND PricebookEntryId = '{refs['platform_usd']}'"
        ).records[0]["Id"]
        amendment = sim.amend_contract(contract, start, [AmendmentLine(-5, revises=original_line)])
        row = sim.query(
            "SELECT Type, Status, ContractId, Opportunity.SBQQ__AmendedContract__c, "
            "SBQQ__Quote__r.SBQQ__Type__c, SBQQ__Quote__r.SBQQ__MasterContract__c, "
            "(SELECT Quantity, SBQQ__RevisedOrderProduct__c FROM OrderItems) FROM Order "
            f"WHERE Id = '{amendment}'"
        ).records[0]
        assert (row["Type"], row["Status"], row["ContractId"]) == ("Amendment", "Draft", contract)
        assert row["Opportunity"]["SBQQ__AmendedContract__c"] == contract
        assert row["SBQQ__Quote__r"]["SBQQ__Type__c"] == "Amendment"
        assert row["SBQQ__Quote__r"]["SBQQ__MasterContract__c"] == contract
        assert [
            (i["Quantity"], i["SBQQ__RevisedOrderProduct__c"]) for i in row["OrderItems"]["records"]
        ] == [(-5.0, original_line)]
        original = sim.get("Order", refs["order_acme"])
        assert original["SBQQ__Contracted__c"] is True and original["ContractId"] == contract
