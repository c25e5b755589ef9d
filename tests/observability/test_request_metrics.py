"""Stripe and Salesforce requests are counted by endpoint and outcome, through the real
clients against the emulator and the org simulator, and pools fit the workers sharing them."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import stripe
from prometheus_client import REGISTRY
from pydantic import SecretStr

from cpqsync.observability.http_requests import endpoint_template
from cpqsync.salesforce.auth import SalesforceAuth
from cpqsync.salesforce.rest import SalesforceRest
from cpqsync.settings import StripeSettings
from cpqsync.stripe_client import build_stripe_client
from cpqsync_sandbox.org.simulator import OrgSimulator
from cpqsync_sandbox.stripe_emulator import StripeEmulator
from tests.bridge.conftest import sim_settings

METRIC = "cpqsync_dependency_requests_total"


def count(dependency: str, endpoint: str, outcome: str) -> float:
    labels = {"dependency": dependency, "endpoint": endpoint, "outcome": outcome}
    return REGISTRY.get_sample_value(METRIC, labels) or 0.0


@pytest.mark.parametrize(
    ("method", "url", "endpoint"),
    [
        ("get", "https://api.stripe.com/v1/customers/cus_9s6XKzkNRiz8i3", "GET /v1/customers/{id}"),
        (
            "POST",
            "https://api.stripe.com/v1/subscription_schedules",
            "POST /v1/subscription_schedules",
        ),
        (
            "POST",
            "https://api.stripe.com/v1/subscription_schedules/sub_sched_1Q2w3E/release",
            "POST /v1/subscription_schedules/{id}/release",
        ),
        (
            "GET",
            "https://acme.my.salesforce.com/services/data/v62.0/query/?q=SELECT+Id+FROM+Order",
            "GET /services/data/{version}/query",
        ),
        (
            "GET",
            "https://acme.my.salesforce.com/services/data/v62.0/query/01gD0000002HU6KIAW-2000",
            "GET /services/data/{version}/query/{id}",
        ),
        (
            "PATCH",
            "https://acme.my.salesforce.com/services/data/v62.0/sobjects/Order/801000000000001AAA",
            "PATCH /services/data/{version}/sobjects/Order/{id}",
        ),
        (
            "PATCH",
            "https://x.my.salesforce.com/services/data/v62.0/composite/sobjects/Sync_Record__c/Compound_ID__c",
            "PATCH /services/data/{version}/composite/sobjects/Sync_Record__c/Compound_ID__c",
        ),
    ],
)
def test_endpoints_are_templates_with_ids_and_versions_generalised(
    method: str, url: str, endpoint: str
) -> None:
    assert endpoint_template(method, url) == endpoint


@pytest.fixture(scope="module")
def emulator() -> Iterator[StripeEmulator]:
    with StripeEmulator() as running:
        yield running


@pytest.mark.integration
def test_stripe_requests_are_counted_by_endpoint_and_outcome(emulator: StripeEmulator) -> None:
    good = build_stripe_client(
        StripeSettings(api_key=SecretStr(emulator.api_key), api_base=emulator.api_base)
    )
    bad = build_stripe_client(
        StripeSettings(api_key=SecretStr("rk_live_nope12345"), api_base=emulator.api_base)
    )
    ok_before = count("stripe", "GET /v1/customers", "2xx")
    rejected_before = count("stripe", "GET /v1/customers", "4xx")
    good.v1.customers.list({"limit": 1})
    good.v1.customers.list({"limit": 1})
    with pytest.raises(stripe.AuthenticationError):
        bad.v1.customers.list({"limit": 1})
    assert count("stripe", "GET /v1/customers", "2xx") == ok_before + 2
    assert count("stripe", "GET /v1/customers", "4xx") == rejected_before + 1


@pytest.mark.integration
def test_salesforce_requests_are_counted_and_a_full_pool_never_discards(
    caplog: pytest.LogCaptureFixture,
) -> None:
    workers = 24
    with OrgSimulator() as org:
        auth = SalesforceAuth(sim_settings(org, "client_credentials"), pool_size=workers)
        rest = SalesforceRest(auth)
        token_before = count("salesforce", "POST /services/oauth2/token", "2xx")
        query_before = count("salesforce", "GET /services/data/{version}/query", "2xx")
        caplog.set_level(logging.WARNING, logger="urllib3")
        with ThreadPoolExecutor(workers) as pool:
            list(
                pool.map(
                    lambda _: rest.call(lambda sf: sf.query("SELECT Id FROM Account")),
                    range(workers * 4),
                )
            )
    assert count("salesforce", "POST /services/oauth2/token", "2xx") == token_before + 1
    assert count("salesforce", "GET /services/data/{version}/query", "2xx") == query_before + 96
    assert not [r for r in caplog.records if "Connection pool is full" in r.getMessage()]
