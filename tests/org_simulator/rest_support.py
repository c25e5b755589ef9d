"""Fixtures for the org simulator's REST/SOQL/store tests: a started simulator and a
simple-salesforce client holding a session obtained over OAuth, as a real integration would."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce

from cpqsync_sandbox.org.ids import IdFactory
from cpqsync_sandbox.org.simulator import OrgSimulator
from cpqsync_sandbox.org.store import OrgStore


def new_store() -> OrgStore:
    ids = IdFactory()
    return OrgStore(org_id=ids.new_id("00D"), user_id=ids.new_id("005"), ids=ids)


def http_session(sim: OrgSimulator) -> requests.Session:
    session = requests.Session()
    session.verify = str(sim.ca_cert)
    session.trust_env = False  # REQUESTS_CA_BUNDLE must not override the simulator's CA
    return session


def password_token(sim: OrgSimulator, session: requests.Session) -> dict[str, Any]:
    response = session.post(
        f"{sim.login_url}/services/oauth2/token",
        data={
            "grant_type": "password",
            "client_id": sim.client_id,
            "client_secret": sim.client_secret,
            "username": sim.username,
            "password": sim.password,
        },
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def simple_salesforce(sim: OrgSimulator) -> Salesforce:
    session = http_session(sim)
    token = password_token(sim, session)
    return Salesforce(
        instance_url=token["instance_url"],
        session_id=token["access_token"],
        session=session,
        version="62.0",
    )


@pytest.fixture(scope="module")
def org() -> Iterator[OrgSimulator]:
    """One REST-only simulator per module; tests create their own records and never count
    records they did not create."""
    sim = OrgSimulator(start_pubsub=False)
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture(scope="module")
def sf(org: OrgSimulator) -> Salesforce:
    return simple_salesforce(org)
