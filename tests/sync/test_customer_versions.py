"""A late customer write (an order sync that read the account before an amendment) must not undo
the amendment: planned by the real planner, applied with the real client against the emulator."""

from __future__ import annotations

import datetime as dt
from typing import Any

import stripe
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from consumer.engine import Pacer
from consumer.sync.apply import PlanApplier
from consumer.sync.planning import PlanningContext, plan_account
from consumer.sync.stripe_calls import StripeCaller, to_plain
from cpqsync.settings import Settings, StripeSettings
from cpqsync.stripe_client import build_stripe_client
from cpqsync_sandbox.stripe_emulator import StripeEmulator

ACCOUNT_ID = "001000000000001AAA"
NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


def _caller(emulator: StripeEmulator) -> StripeCaller:
    settings = StripeSettings(api_key=SecretStr(emulator.api_key), api_base=emulator.api_base)
    return StripeCaller(
        build_stripe_client(settings), Pacer("stripe", 500, registry=CollectorRegistry())
    )


def _account(customer_id: str, amendment: int, modstamp: str) -> dict[str, Any]:
    return {
        "Id": ACCOUNT_ID,
        "Name": f"Zürich Straße GmbH #{amendment}",
        "Phone": f"+41 44 000 0{amendment}",
        "Description": f"amendment {amendment}",
        "Stripe_ID__c": customer_id,
        "SystemModstamp": modstamp,
    }


def _sync(applier: PlanApplier, account: dict[str, Any]) -> Any:
    plan = plan_account(account, context=PlanningContext(settings=Settings(), now=NOW))
    assert plan.status == "ready", plan
    outcome = applier.apply(plan)
    assert outcome.error is None
    return outcome


def _customer(caller: StripeCaller, customer_id: str) -> dict[str, Any]:
    return to_plain(caller.call(lambda c: c.v1.customers.retrieve(customer_id)))


def _new_customer(caller: StripeCaller) -> str:
    params: stripe.params.CustomerCreateParams = {
        "name": "before",
        "metadata": {"salesforce_account_id": ACCOUNT_ID},
    }
    return str(caller.call(lambda c: c.v1.customers.create(params)).id)


def test_a_write_of_an_older_account_version_does_not_undo_a_newer_one(
    emulator: StripeEmulator,
) -> None:
    caller = _caller(emulator)
    applier = PlanApplier(caller)
    customer_id = _new_customer(caller)
    # The amendment's own sync lands first, then an order sync that read the account earlier.
    _sync(applier, _account(customer_id, 163, "2026-11-24T22:56:40.120+0000"))
    late = _sync(applier, _account(customer_id, 159, "2026-11-24T22:56:18.004+0000"))
    customer = _customer(caller, customer_id)
    assert customer["name"] == "Zürich Straße GmbH #163"
    assert customer["phone"] == "+41 44 000 0163"
    assert customer["description"] == "amendment 163"
    assert customer["metadata"]["salesforce_account_modstamp"] == "2026-11-24T22:56:40.120+0000"
    assert late.applied == [] and [s.operation.kind for s in late.superseded] == ["customer.update"]
    posts = [e for e in emulator.request_log() if e.method == "POST"]
    assert len(posts) == 2  # the create and the newer update; the stale one was never sent


def test_a_newer_or_equal_account_version_is_written(emulator: StripeEmulator) -> None:
    caller = _caller(emulator)
    applier = PlanApplier(caller)
    customer_id = _new_customer(caller)
    _sync(applier, _account(customer_id, 159, "2026-11-24T22:56:18.004+0000"))
    newer = _sync(applier, _account(customer_id, 163, "2026-11-24T22:56:40.120+0000"))
    assert [a.operation.kind for a in newer.applied] == ["customer.update"]
    assert _customer(caller, customer_id)["name"] == "Zürich Straße GmbH #163"
    # Same version, other values (a custom mapping changed, say): still written.
    same = _account(customer_id, 164, "2026-11-24T22:56:40.120+0000")
    assert [a.operation.kind for a in _sync(applier, same).applied] == ["customer.update"]
    assert _customer(caller, customer_id)["name"] == "Zürich Straße GmbH #164"
