"""`cpqsync config check --connect`: reverse_mappings checked against the org's describe."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from cpqsync_sandbox.org.simulator import OrgSimulator
from cpqsync_sandbox.stripe_emulator import StripeEmulator


@pytest.fixture
def org() -> Iterator[OrgSimulator]:
    with OrgSimulator(start_pubsub=False) as sim:
        yield sim


@pytest.fixture
def emulator() -> Iterator[StripeEmulator]:
    with StripeEmulator() as emu:
        yield emu


def _check(
    org: OrgSimulator,
    emulator: StripeEmulator,
    kafka: str,
    tmp_path: Path,
    reverse: dict[str, dict[str, str]] | None,
) -> str:
    # --connect also reaches Kafka and Stripe: give it both, so only the org can fail.
    config: dict[str, object] = {
        "kafka": {"bootstrap_servers": kafka},
        "stripe": {"api_base": emulator.api_base},
        "salesforce": {
            "login_url": org.login_url,
            "auth_flow": "client_credentials",
            "client_id": org.client_id,
            "ca_bundle": str(org.ca_cert),
            "api_version": org.api_version,
        },
    }
    if reverse is not None:
        config["reverse_mappings"] = reverse
    path = tmp_path / "cpqsync.yaml"
    path.write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [sys.executable, "-m", "cpqsync", "config", "check", str(path), "--connect"],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "CPQSYNC_SALESFORCE__CLIENT_SECRET": org.client_secret,
            "CPQSYNC_STRIPE__API_KEY": emulator.api_key,
        },
    )
    assert org.client_secret not in result.stdout + result.stderr
    return f"{result.returncode}\n{result.stdout}{result.stderr}"


def test_the_default_mappings_match_the_org(
    org: OrgSimulator, emulator: StripeEmulator, kafka: str, tmp_path: Path
) -> None:
    output = _check(org, emulator, kafka, tmp_path, None)
    assert output.startswith("0\n") and "OK" in output


def test_missing_fields_and_wrong_types_are_named(
    org: OrgSimulator, emulator: StripeEmulator, kafka: str, tmp_path: Path
) -> None:
    output = _check(
        org,
        emulator,
        kafka,
        tmp_path,
        {
            "Order": {
                "Stripe_Missing__c": "invoice.status",
                "Stripe_Latest_Invoice_Number__c": "invoice.amount_due | money",
                "Stripe_Last_Payment_Date__c": "billing.last_payment_date",
            },
            "Account": {"Stripe_Delinquent__c": "customer.delinquent"},
        },
    )
    assert output.startswith("1\n")
    assert "reverse_mappings.Order.Stripe_Missing__c: the org's Order has no field" in output
    assert (
        "reverse_mappings.Order.Stripe_Latest_Invoice_Number__c: '| money' needs a currency "
        "or double field; Order.Stripe_Latest_Invoice_Number__c is a string"
    ) in output
    assert "Stripe_Last_Payment_Date__c is a datetime; add '| datetime'" in output
    assert "reverse_mappings.Account" not in output  # its field exists, boolean as it should
