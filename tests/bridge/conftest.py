"""Fixtures for the bridge and Salesforce-access tests: a running org simulator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from cpqsync.settings import SalesforceSettings
from cpqsync_sandbox.org.simulator import OrgSimulator


@pytest.fixture
def org_sim() -> Iterator[OrgSimulator]:
    with OrgSimulator() as sim:
        yield sim


def sim_settings(
    sim: OrgSimulator, flow: str = "jwt_bearer", **overrides: Any
) -> SalesforceSettings:
    """Salesforce settings for the simulator: TLS with its CA on REST and gRPC."""
    values: dict[str, Any] = {
        "login_url": sim.login_url,
        "auth_flow": flow,
        "client_id": sim.client_id,
        "username": sim.username,
        "ca_bundle": sim.ca_cert,
        "pubsub_target": sim.grpc_target,
        "api_version": sim.api_version,
    }
    if flow == "jwt_bearer":
        values["private_key_file"] = sim.private_key_pem
    else:
        values["client_secret"] = SecretStr(sim.client_secret)
    if flow == "password":
        values["password"] = SecretStr(sim.password)
    values.update(overrides)
    return SalesforceSettings(**values)
