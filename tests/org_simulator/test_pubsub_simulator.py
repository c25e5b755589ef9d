"""The whole simulator as a third-party client sees it: OAuth over HTTPS, REST DML, and change
events over TLS gRPC with the simulator's CA, using only requests, grpc and the generated stubs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
import requests

from cpqsync.salesforce.pubsub_stubs import load
from cpqsync_sandbox.org.simulator import OrgSimulator
from tests.org_simulator.cdc_support import Org, Subscriber, decode, error_code
from tests.org_simulator.test_cdc_bitmap import decode_bitmap


@pytest.fixture(scope="module")
def sim() -> Iterator[OrgSimulator]:
    with OrgSimulator() as running:
        yield running


def login(sim: OrgSimulator) -> dict[str, Any]:
    response = requests.post(
        f"{sim.login_url}/services/oauth2/token",
        data={
            "grant_type": "password",
            "client_id": sim.client_id,
            "client_secret": sim.client_secret,
            "username": sim.username,
            "password": sim.password,
        },
        verify=str(sim.ca_cert),
        timeout=10,
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def grpc_org(sim: OrgSimulator) -> Iterator[tuple[Org, tuple[tuple[str, str], ...], str]]:
    pb2, pb2_grpc = load()
    token = login(sim)
    metadata = (
        ("accesstoken", token["access_token"]),
        ("instanceurl", token["instance_url"]),
        ("tenantid", sim.org_id),
    )
    assert sim.grpc_target is not None
    credentials = grpc.ssl_channel_credentials(root_certificates=sim.ca_cert.read_bytes())
    channel = grpc.secure_channel(sim.grpc_target, credentials)
    try:
        org = Org(
            sim.pubsub.bus, sim.publisher, sim.pubsub, channel, pb2_grpc.PubSubStub(channel), pb2
        )
        yield org, metadata, token["access_token"]
    finally:
        channel.close()


def test_rest_dml_reaches_a_tls_subscriber_as_change_events(
    sim: OrgSimulator, grpc_org: Any
) -> None:
    org, metadata, access_token = grpc_org
    base = f"{sim.rest_url}/services/data/v{sim.api_version}/sobjects/Account"
    auth = {"Authorization": f"Bearer {access_token}"}
    sub = Subscriber(
        org,
        metadata=metadata,
        topic_name="/data/AccountChangeEvent",
        replay_preset=org.pb2.EARLIEST,  # no race with the DML below; this org is fresh
        num_requested=10,
    )
    try:
        created = requests.post(
            base, json={"Name": "Wire Co"}, headers=auth, verify=str(sim.ca_cert), timeout=10
        )
        assert created.status_code == 201, created.text
        account_id = created.json()["id"]
        updated = requests.patch(
            f"{base}/{account_id}",
            json={
                "Name": "Wire Co Ltd",
                "Phone": "+44 20",
                "Industry": "Retail",
                "BillingCity": "Leeds",
            },
            headers=auth,
            verify=str(sim.ca_cert),
            timeout=10,
        )
        assert updated.status_code == 204, updated.text
        create, update = sub.events(2)
    finally:
        sub.close()
    info = org.stub.GetSchema(
        org.pb2.SchemaRequest(schema_id=update.event.schema_id), metadata=metadata
    )
    assert decode(info.schema_json, create.event.payload)["Name"] == "Wire Co"
    record = decode(info.schema_json, update.event.payload)
    assert record["ChangeEventHeader"]["recordIds"] == [account_id]
    assert decode_bitmap(
        json.loads(info.schema_json), record["ChangeEventHeader"]["changedFields"]
    ) == {
        "Name",
        "Phone",
        "Industry",
        "BillingAddress.City",
        "LastModifiedDate",
    }


def test_a_token_that_is_not_a_live_session_is_refused(grpc_org: Any, sim: OrgSimulator) -> None:
    org, metadata, _ = grpc_org
    forged = (("accesstoken", "00Dforged!token"), *metadata[1:])
    with pytest.raises(grpc.RpcError) as caught:
        org.stub.GetTopic(
            org.pb2.TopicRequest(topic_name="/data/OrderChangeEvent"), metadata=forged
        )
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_code(caught.value) == "sfdc.platform.eventbus.grpc.service.auth.error"
    info = org.stub.GetTopic(
        org.pb2.TopicRequest(topic_name="/data/OrderChangeEvent"), metadata=metadata
    )
    assert info.tenant_guid == sim.org_id and info.schema_id
