"""Logging in to the simulated org: OAuth grants (with our own OAuth client and with raw HTTP),
identity, SOAP login, and what happens without a valid session."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceExpiredSession

from cpqsync.salesforce.auth import SalesforceAuth, SalesforceAuthError
from cpqsync.settings import SalesforceSettings
from cpqsync_sandbox.org.simulator import OrgSimulator
from tests.org_simulator.rest_support import http_session, org, password_token  # noqa: F401


def settings_for(sim: OrgSimulator, flow: str, **overrides: object) -> SalesforceSettings:
    values: dict[str, object] = {
        "login_url": sim.login_url,
        "auth_flow": flow,
        "client_id": sim.client_id,
        "client_secret": SecretStr(sim.client_secret),
        "username": sim.username,
        "password": SecretStr(sim.password),
        "private_key_file": sim.private_key_pem,
        "ca_bundle": sim.ca_cert,
    }
    values.update(overrides)
    return SalesforceSettings(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("flow", ["jwt_bearer", "client_credentials", "password"])
def test_our_oauth_client_logs_in_with_each_flow(org: OrgSimulator, flow: str) -> None:  # noqa: F811
    auth = SalesforceAuth(settings_for(org, flow))
    session = auth.session()
    assert session.instance_url == org.rest_url
    assert (session.org_id, session.user_id) == (org.org_id, org.user_id)
    sf = Salesforce(
        instance_url=session.instance_url,
        session_id=session.access_token.get_secret_value(),
        session=auth.http,
    )
    assert sf.query("SELECT COUNT() FROM Account")["done"] is True


def test_token_response_shape_and_userinfo(org: OrgSimulator) -> None:  # noqa: F811
    http = http_session(org)
    token = password_token(org, http)
    assert token["token_type"] == "Bearer"
    assert token["id"] == f"{org.login_url}/id/{org.org_id}/{org.user_id}"
    assert token["issued_at"].isdigit() and token["signature"]
    info = http.get(
        f"{org.rest_url}/services/oauth2/userinfo",
        headers={"Authorization": f"Bearer {token['access_token']}"},
    ).json()
    assert (info["organization_id"], info["user_id"]) == (org.org_id, org.user_id)
    assert info["preferred_username"] == org.username


def _assertion(sim: OrgSimulator, key: bytes | None = None, **claims: object) -> str:
    payload: dict[str, object] = {
        "iss": sim.client_id,
        "sub": sim.username,
        "aud": "https://login.salesforce.com",
        "exp": int(time.time()) + 120,
    }
    payload.update(claims)
    return jwt.encode(payload, key or Path(sim.private_key_pem).read_bytes(), algorithm="RS256")


def _other_key() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("good", None),
        ("wrong key", "invalid_grant"),
        ("wrong audience", "invalid_grant"),
        ("the org's own URL as audience", "invalid_grant"),
        ("expired", "invalid_grant"),
        ("wrong client", "invalid_client_id"),
        ("wrong user", "invalid_grant"),
    ],
)
def test_jwt_bearer_checks_signature_and_claims(
    org: OrgSimulator,  # noqa: F811
    case: str,
    error: str | None,
) -> None:
    assertion = {
        "good": lambda: _assertion(org),
        "wrong key": lambda: _assertion(org, key=_other_key()),
        "wrong audience": lambda: _assertion(org, aud="https://evil.example.com"),
        "the org's own URL as audience": lambda: _assertion(org, aud=org.login_url),
        "expired": lambda: _assertion(org, exp=int(time.time()) - 600),
        "wrong client": lambda: _assertion(org, iss="someone-else"),
        "wrong user": lambda: _assertion(org, sub="mallory@example.com"),
    }[case]()
    response = http_session(org).post(
        f"{org.login_url}/services/oauth2/token",
        data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion},
    )
    if error is None:
        assert response.status_code == 200 and response.json()["access_token"]
    else:
        assert response.status_code == 400
        assert response.json()["error"] == error
        assert "access_token" not in response.json()


@pytest.mark.parametrize(
    ("form", "error"),
    [
        (
            {"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"},
            "invalid_client_id",
        ),
        ({"grant_type": "password", "password": "wrong"}, "invalid_grant"),
        ({"grant_type": "authorization_code"}, "unsupported_grant_type"),
    ],
)
def test_bad_grants_are_refused(org: OrgSimulator, form: dict[str, str], error: str) -> None:  # noqa: F811
    data = {
        "client_id": org.client_id,
        "client_secret": org.client_secret,
        "username": org.username,
        **form,
    }
    response = http_session(org).post(f"{org.login_url}/services/oauth2/token", data=data)
    assert (response.status_code, response.json()["error"]) == (400, error)


def test_our_client_reports_a_refused_login_without_the_secret(org: OrgSimulator) -> None:  # noqa: F811
    auth = SalesforceAuth(
        settings_for(org, "client_credentials", client_secret=SecretStr("not-the-secret"))
    )
    with pytest.raises(SalesforceAuthError) as err:
        auth.session()
    assert "invalid_client" in str(err.value) and "not-the-secret" not in str(err.value)


def test_soap_login_returns_a_session(org: OrgSimulator) -> None:  # noqa: F811
    envelope = f"""<?xml version="1.0" encoding="utf-8" ?>
<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/">
  <env:Body><n1:login xmlns:n1="urn:partner.soap.sforce.com">
    <n1:username>{org.username}</n1:username><n1:password>{org.password}</n1:password>
  </n1:login></env:Body></env:Envelope>"""
    http = http_session(org)
    response = http.post(
        f"{org.login_url}/services/Soap/u/62.0",
        data=envelope,
        headers={"Content-Type": "text/xml", "SOAPAction": "login"},
    )
    assert response.status_code == 200
    session_id = response.text.split("<sessionId>")[1].split("</sessionId>")[0]
    assert f"<organizationId>{org.org_id}</organizationId>" in response.text
    sf = Salesforce(instance_url=org.rest_url, session_id=session_id, session=http)
    assert sf.query("SELECT COUNT() FROM Account")["done"] is True
    bad = http.post(
        f"{org.login_url}/services/Soap/u/62.0",
        data=envelope.replace(org.password, "wrong"),
        headers={"Content-Type": "text/xml"},
    )
    assert bad.status_code == 500 and "INVALID_LOGIN" in bad.text


def test_missing_or_expired_session_is_invalid_session_id(org: OrgSimulator) -> None:  # noqa: F811
    http = http_session(org)
    url = f"{org.rest_url}/services/data/v62.0/query?q=SELECT+Id+FROM+Account"
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        response = http.get(url, headers=headers)
        assert response.status_code == 401
        assert response.json() == [
            {
                "message": "Session expired or invalid",
                "errorCode": "INVALID_SESSION_ID",
                "fields": [],
            }
        ]
    sim_token = password_token(org, http)["access_token"]
    sf = Salesforce(instance_url=org.rest_url, session_id=sim_token, session=http)
    sf.query("SELECT Id FROM Account LIMIT 1")
    org.expire_sessions()
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM Account LIMIT 1")


def test_tls_is_verified_against_the_simulator_ca(org: OrgSimulator) -> None:  # noqa: F811
    plain = requests.Session()
    plain.trust_env = False
    with pytest.raises(requests.exceptions.SSLError):
        plain.get(f"{org.rest_url}/services/data")
    versions = http_session(org).get(f"{org.rest_url}/services/data").json()
    assert {"version": "62.0", "url": "/services/data/v62.0", "label": "API 62.0"} in versions
