"""Whose fault a failed call is, decided where the sync calls Stripe and Salesforce (real clients
against the emulator and the org simulator): the world's (``DependencyDown``: held and probed,
never an Error record), one request's passing trouble (retried, then dead-lettered), or the
record's (an Error record)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest
import stripe
from pydantic import SecretStr

from consumer.engine import DependencyDown, Pacer, PermanentError
from consumer.sync.failures import (
    SalesforceDown,
    SalesforceRejected,
    StripeDown,
    StripeRejected,
    StripeUnavailable,
)
from consumer.sync.salesforce_reads import SalesforceReader
from consumer.sync.stripe_calls import StripeCaller
from cpqsync.salesforce.auth import SalesforceAuth
from cpqsync.salesforce.rest import SalesforceRest
from cpqsync.settings import StripeSettings
from cpqsync.stripe_client import build_stripe_client
from cpqsync_sandbox.org.simulator import OrgSimulator
from cpqsync_sandbox.stripe_emulator import StripeEmulator
from tests.sync.stack import org_settings

pytestmark = pytest.mark.integration

Create = Callable[[stripe.StripeClient], Any]


def _caller(api_base: str, api_key: str) -> StripeCaller:
    settings = StripeSettings(api_key=SecretStr(api_key), api_base=api_base, timeout_s=2)
    return StripeCaller(
        build_stripe_client(settings),
        Pacer("stripe-test", 100),
        network_backoff_s=0.01,
        max_network_backoff_s=0.02,
    )


def _create(name: str, key: str | None = None) -> Create:
    options: dict[str, Any] = {"idempotency_key": key} if key else {}
    return lambda c: c.v1.customers.create({"name": name}, options)  # type: ignore[arg-type]


def _fails(caller: StripeCaller, call: Create) -> Exception:
    with pytest.raises(Exception) as caught:
        caller.call(call)
    return caught.value


def test_stripe_answering_5xx_to_everything_is_stripe_down(emulator: StripeEmulator) -> None:
    emulator.configure_faults({"kind": "error", "rate": 1.0, "status": 503})
    caller = _caller(emulator.api_base, emulator.api_key)
    error = _fails(caller, _create("A"))
    assert isinstance(error, StripeDown) and isinstance(error, DependencyDown)
    assert (error.dependency, error.setting) == ("stripe", "stripe.api_base")
    assert caller.requests == 3, "the caller's own retries come first"
    with pytest.raises(StripeDown):
        caller.probe()
    emulator.configure_faults()
    caller.probe()  # answers again: the probe says so


def test_a_rolled_key_is_stripe_down_naming_the_key_and_not_retried(
    emulator: StripeEmulator,
) -> None:
    caller = _caller(emulator.api_base, emulator.api_key)
    emulator.expire_key(emulator.api_key)
    error = _fails(caller, _create("A"))
    assert isinstance(error, StripeDown) and error.setting == "stripe.api_key"
    assert "Expired API Key" in str(error) and "HTTP 401" in str(error)
    assert emulator.api_key not in str(error)
    assert caller.requests == 1, "no retry can fix a key"


def test_nothing_listening_is_stripe_down() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    caller = _caller(f"http://127.0.0.1:{port}", "sk_test_unreachable")
    error = _fails(caller, _create("A"))
    assert isinstance(error, StripeDown) and error.setting == "stripe.api_base"


def test_a_refusal_of_our_parameters_is_the_records_fault(emulator: StripeEmulator) -> None:
    caller = _caller(emulator.api_base, emulator.api_key)
    error = _fails(caller, lambda c: c.v1.prices.create({"currency": "usd", "unit_amount": 5}))
    assert isinstance(error, StripeRejected) and isinstance(error, PermanentError)
    assert not isinstance(error, DependencyDown)


def test_a_500_stripe_stored_for_one_key_is_that_requests_trouble(
    emulator: StripeEmulator,
) -> None:
    emulator.configure_faults({"kind": "error", "nth": 1, "stage": "after"})
    caller = _caller(emulator.api_base, emulator.api_key)
    first = _fails(caller, _create("A", "k-stored"))
    again = _fails(caller, _create("A", "k-stored"))  # Stripe replays what it stored
    for error in (first, again):
        assert isinstance(error, StripeUnavailable) and not isinstance(error, DependencyDown)
    assert isinstance(again, StripeUnavailable) and again.replayed
    caller.call(_create("B", "k-other"))  # Stripe itself is fine


def _reader(org: OrgSimulator) -> SalesforceReader:
    return SalesforceReader(SalesforceRest(SalesforceAuth(org_settings(org))))


def test_salesforce_out_of_api_requests_is_salesforce_down(org: OrgSimulator) -> None:
    reader = _reader(org)
    reader.probe()
    org.api_usage.daily_limit = org.api_usage.used
    with pytest.raises(SalesforceDown) as caught:
        reader.query("SELECT Id, Name FROM Account")
    assert "REQUEST_LIMIT_EXCEEDED" in str(caught.value)
    assert caught.value.dependency == "salesforce"
    assert caught.value.setting is not None and "API request allocation" in caught.value.setting
    with pytest.raises(SalesforceDown):
        reader.probe()


def test_salesforce_unavailable_even_to_log_in_is_salesforce_down(org: OrgSimulator) -> None:
    reader = _reader(org)
    reader.probe()
    org.set_unavailable()
    with pytest.raises(SalesforceDown) as caught:
        reader.query("SELECT Id FROM Account")
    assert "503" in str(caught.value)
    org.expire_sessions()  # the next call must log in again, and the login fails too
    with pytest.raises(SalesforceDown):
        reader.query("SELECT Id FROM Account")
    org.set_unavailable(False)
    reader.probe()


def test_a_query_salesforce_refuses_is_the_records_fault(org: OrgSimulator) -> None:
    with pytest.raises(SalesforceRejected) as caught:
        _reader(org).query("SELECT Id, No_Such_Field__c FROM Account")
    assert not isinstance(caught.value, DependencyDown)
