"""The shared REST wrapper: simple-salesforce against the simulator, re-login and retry classes."""

from __future__ import annotations

import pytest

from cpqsync.salesforce.auth import SalesforceAuth
from cpqsync.salesforce.rest import RetryableSalesforceError, SalesforceRest, is_retryable
from cpqsync_sandbox.org.simulator import OrgSimulator
from tests.bridge.conftest import sim_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def rest(org_sim: OrgSimulator) -> SalesforceRest:
    return SalesforceRest(SalesforceAuth(sim_settings(org_sim, "client_credentials")))


def test_query_through_simple_salesforce(org_sim: OrgSimulator, rest: SalesforceRest) -> None:
    account = org_sim.create("Account", {"Name": "Acme"})
    result = rest.call(lambda sf: sf.query(f"SELECT Id, Name FROM Account WHERE Id = '{account}'"))
    assert [r["Name"] for r in result["records"]] == ["Acme"]


def test_expired_session_logs_in_again_and_repeats_the_call(
    org_sim: OrgSimulator, rest: SalesforceRest
) -> None:
    rest.call(lambda sf: sf.query("SELECT Id FROM Account"))
    org_sim.expire_sessions()
    result = rest.call(lambda sf: sf.query("SELECT COUNT() FROM Account"))
    assert result["totalSize"] == 0
    assert rest.auth.logins == 2


def test_request_limit_exceeded_is_retryable(org_sim: OrgSimulator, rest: SalesforceRest) -> None:
    org_sim.api_usage.fail_next(1)
    with pytest.raises(RetryableSalesforceError) as caught:
        rest.call(lambda sf: sf.query("SELECT Id FROM Account"))
    assert caught.value.error_code == "REQUEST_LIMIT_EXCEEDED"
    assert is_retryable(caught.value)
    assert rest.call(lambda sf: sf.query("SELECT COUNT() FROM Account"))["totalSize"] == 0


def test_permanent_errors_are_not_retryable(rest: SalesforceRest) -> None:
    with pytest.raises(Exception) as caught:
        rest.call(lambda sf: sf.query("SELECT Nope__c FROM Account"))
    assert not isinstance(caught.value, RetryableSalesforceError)
    assert not is_retryable(caught.value)


def test_query_pages_follow_next_records_url(org_sim: OrgSimulator, rest: SalesforceRest) -> None:
    created = {org_sim.create("Account", {"Name": f"A{n}"}) for n in range(7)}
    org_sim.set_query_batch_size(3)
    pages = list(rest.query_pages("SELECT Id FROM Account"))
    assert [len(page) for page in pages] == [3, 3, 1]
    assert {r["Id"] for page in pages for r in page} == created
