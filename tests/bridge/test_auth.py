"""OAuth flows against the simulator's token endpoint, over TLS with its private CA."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from pydantic import SecretStr

from cpqsync.salesforce.auth import SalesforceAuth, SalesforceAuthError, jwt_audience
from cpqsync.settings import SalesforceSettings
from cpqsync_sandbox.org.simulator import OrgSimulator
from tests.bridge.conftest import sim_settings

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("flow", ["jwt_bearer", "client_credentials", "password"])
def test_each_flow_returns_a_session_for_the_org(org_sim: OrgSimulator, flow: str) -> None:
    auth = SalesforceAuth(sim_settings(org_sim, flow))
    session = auth.session()
    assert session.instance_url == org_sim.rest_url
    assert session.org_id == org_sim.org_id
    assert session.user_id == org_sim.user_id
    assert org_sim.sessions.check(session.access_token.get_secret_value()) is not None
    assert session.access_token.get_secret_value() not in repr(session)


def test_environment_ca_bundle_does_not_override_the_configured_one(
    org_sim: OrgSimulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bogus = tmp_path / "empty-ca.pem"
    bogus.write_text("")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bogus))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(bogus))
    assert SalesforceAuth(sim_settings(org_sim)).session().org_id == org_sim.org_id


def test_without_the_private_ca_tls_verification_fails(org_sim: OrgSimulator) -> None:
    auth = SalesforceAuth(sim_settings(org_sim, ca_bundle=None))
    with pytest.raises(SalesforceAuthError, match="SSLError"):
        auth.session()


def test_wrong_secret_names_the_flow_and_error_but_not_the_secret(org_sim: OrgSimulator) -> None:
    secret = "definitely-not-the-secret-123"
    auth = SalesforceAuth(
        sim_settings(org_sim, "client_credentials", client_secret=SecretStr(secret))
    )
    with pytest.raises(SalesforceAuthError) as caught:
        auth.session()
    message = str(caught.value)
    assert "client_credentials" in message and "HTTP 400" in message
    assert "invalid_client" in message
    assert secret not in message


def test_missing_settings_are_named_before_any_login(org_sim: OrgSimulator) -> None:
    with pytest.raises(SalesforceAuthError, match=r"needs salesforce\.private_key_file"):
        SalesforceAuth(sim_settings(org_sim, private_key_file=None))


def test_unreadable_key_file_is_reported(org_sim: OrgSimulator, tmp_path: Path) -> None:
    not_a_key = tmp_path / "key.pem"
    not_a_key.write_text("not a key")
    auth = SalesforceAuth(sim_settings(org_sim, private_key_file=not_a_key))
    with pytest.raises(SalesforceAuthError, match="not a usable RSA private key"):
        auth.session()


def test_concurrent_refreshes_of_one_stale_session_log_in_once(org_sim: OrgSimulator) -> None:
    auth = SalesforceAuth(sim_settings(org_sim, "client_credentials"))
    stale = auth.session()
    results = []

    def refresh() -> None:
        results.append(auth.refresh(stale=stale))

    threads = [threading.Thread(target=refresh) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert auth.logins == 2
    assert len({id(session) for session in results}) == 1
    assert results[0] is not stale


@pytest.mark.parametrize(
    ("login_url", "is_sandbox", "audience"),
    [
        ("https://acme.my.salesforce.com", False, "https://login.salesforce.com"),
        ("https://login.salesforce.com", False, "https://login.salesforce.com"),
        ("https://acme--uat.sandbox.my.salesforce.com", False, "https://test.salesforce.com"),
        ("https://test.salesforce.com", False, "https://test.salesforce.com"),
        ("https://acme.my.salesforce.com", True, "https://test.salesforce.com"),
    ],
)
def test_the_jwt_audience_is_the_generic_login_host_whatever_url_we_post_to(
    login_url: str, is_sandbox: bool, audience: str
) -> None:
    settings = SalesforceSettings(login_url=login_url, is_sandbox=is_sandbox)
    assert jwt_audience(settings) == audience
