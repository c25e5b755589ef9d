"""Subscribing over gRPC with plain grpc and stubs generated from our proto, as a third-party
client would: replay presets, stored replay ids, flow control, keepalives, schemas, errors."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from cpqsync_sandbox.org.schema import FieldDef
from tests.org_simulator.cdc_support import (
    METADATA,
    ORG_ID,
    Org,
    Subscriber,
    Txn,
    account_id,
    create_accounts,
    decode,
    error_code,
    running_org,
)

ACCOUNTS = "/data/AccountChangeEvent"


@pytest.fixture
def org() -> Iterator[Org]:
    with running_org(tls=True) as running:
        yield running


def names(org: Org, events: list) -> list[str]:
    out = []
    for e in events:
        info = org.stub.GetSchema(
            org.pb2.SchemaRequest(schema_id=e.event.schema_id), metadata=METADATA
        )
        out.append(decode(info.schema_json, e.event.payload)["Name"])
    return out


def test_earliest_over_tls_delivers_every_retained_event_in_order(org: Org) -> None:
    create_accounts(org.publisher, 1, 5)
    sub = Subscriber(org, topic_name=ACCOUNTS, replay_preset=org.pb2.EARLIEST, num_requested=10)
    try:
        events = sub.events(5)
        assert names(org, events) == [f"Account {n}" for n in range(1, 6)]
    finally:
        sub.close()


def test_latest_and_no_preset_deliver_only_events_published_after_subscribing(org: Org) -> None:
    create_accounts(org.publisher, 1, 3)
    latest = Subscriber(org, topic_name=ACCOUNTS, replay_preset=org.pb2.LATEST, num_requested=10)
    default = Subscriber(org, topic_name=ACCOUNTS, num_requested=10)
    try:
        for sub in (latest, default):  # the first keepalive proves the subscription is live
            assert list(sub.next().events) == []
        create_accounts(org.publisher, 4, 2)
        assert names(org, latest.events(2)) == ["Account 4", "Account 5"]
        assert names(org, default.events(2)) == ["Account 4", "Account 5"]
    finally:
        latest.close()
        default.close()


def test_custom_replay_delivers_exactly_the_events_after_the_stored_id(org: Org) -> None:
    replay_ids = create_accounts(org.publisher, 1, 8)
    sub = Subscriber(
        org,
        topic_name=ACCOUNTS,
        replay_preset=org.pb2.CUSTOM,
        replay_id=replay_ids[3],
        num_requested=100,
    )
    try:
        events = sub.events(4)
        assert [e.replay_id for e in events] == replay_ids[4:]
        assert names(org, events) == [f"Account {n}" for n in range(5, 9)]
        quiet = sub.next()  # nothing more: the next response is a keepalive
        assert list(quiet.events) == []
        assert quiet.latest_replay_id == replay_ids[-1]
    finally:
        sub.close()


def test_flow_control_never_delivers_more_than_requested(org: Org) -> None:
    create_accounts(org.publisher, 1, 30)
    sub = Subscriber(org, topic_name=ACCOUNTS, replay_preset=org.pb2.EARLIEST, num_requested=4)
    try:
        first = sub.events(4)
        assert len(first) == 4
        idle = sub.next()
        assert list(idle.events) == [] and idle.pending_num_requested == 0
        sub.request(7)
        second = []
        while len(second) < 7:
            response = sub.next()
            second.extend(response.events)
        assert len(second) == 7 and response.pending_num_requested == 0
        assert list(sub.next().events) == []
        assert names(org, first + second) == [f"Account {n}" for n in range(1, 12)]
    finally:
        sub.close()


def test_requests_accumulate_up_to_100_outstanding(org: Org) -> None:
    sub = Subscriber(org, topic_name=ACCOUNTS, replay_preset=org.pb2.LATEST, num_requested=30)
    try:
        sub.request(40)
        sub.request(90)  # 160 asked in all, capped at 100 outstanding
        while sub.next().pending_num_requested != 100:
            pass
        create_accounts(org.publisher, 1, 150)
        events = sub.events(100)
        assert len(events) == 100
        idle = sub.next()
        assert list(idle.events) == [] and idle.pending_num_requested == 0
    finally:
        sub.close()


def test_keepalive_replay_id_resumes_without_loss(org: Org) -> None:
    create_accounts(org.publisher, 1, 2)
    sub = Subscriber(org, topic_name=ACCOUNTS, replay_preset=org.pb2.LATEST, num_requested=5)
    keepalive = sub.next()
    sub.close()
    assert list(keepalive.events) == [] and keepalive.latest_replay_id
    create_accounts(org.publisher, 3, 2)
    resumed = Subscriber(
        org,
        topic_name=ACCOUNTS,
        replay_preset=org.pb2.CUSTOM,
        replay_id=keepalive.latest_replay_id,
        num_requested=5,
    )
    try:
        assert names(org, resumed.events(2)) == ["Account 3", "Account 4"]
    finally:
        resumed.close()


def test_replay_ids_are_opaque_and_grow_in_length(org: Org) -> None:
    replay_ids = create_accounts(org.publisher, 1, 300)
    assert len({len(r) for r in replay_ids}) > 1
    assert len(set(replay_ids)) == 300


@pytest.mark.parametrize(
    "mangle",
    [
        lambda good: good[:-1] + bytes([good[-1] ^ 0xFF]),
        lambda good: good[:3],
        lambda good: b"\x00\x00\x00\x00\x00\x00\x12\x34",
    ],
    ids=["flipped-byte", "truncated", "foreign-8-byte-id"],
)
def test_a_corrupted_replay_id_gets_the_documented_error(org: Org, mangle) -> None:
    (good,) = create_accounts(org.publisher, 1, 1)
    sub = Subscriber(
        org,
        topic_name=ACCOUNTS,
        replay_preset=org.pb2.CUSTOM,
        replay_id=mangle(good),
        num_requested=5,
    )
    exc = sub.error()
    assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_code(exc) == "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted"


def test_a_replay_id_outside_retention_is_reported_as_corrupted(org: Org) -> None:
    (old,) = create_accounts(org.publisher, 1, 1)
    org.bus.advance_clock(73)
    create_accounts(org.publisher, 2, 1)
    sub = Subscriber(
        org, topic_name=ACCOUNTS, replay_preset=org.pb2.CUSTOM, replay_id=old, num_requested=5
    )
    exc = sub.error()
    assert error_code(exc) == "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted"
    assert "retention" in exc.details()
    earliest = Subscriber(org, topic_name=ACCOUNTS, replay_preset=org.pb2.EARLIEST, num_requested=5)
    try:
        assert names(org, earliest.events(1)) == ["Account 2"]
        assert list(earliest.next().events) == []
    finally:
        earliest.close()


def test_custom_without_a_replay_id_fails_validation(org: Org) -> None:
    sub = Subscriber(org, topic_name=ACCOUNTS, replay_preset=org.pb2.CUSTOM, num_requested=5)
    exc = sub.error()
    assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (
        error_code(exc)
        == "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.validation.failed"
    )


@pytest.mark.parametrize(
    "metadata",
    [
        (("accesstoken", "wrong"), ("instanceurl", "https://x"), ("tenantid", ORG_ID)),
        tuple(kv for kv in METADATA if kv[0] != "tenantid"),
        (),
    ],
    ids=["bad-token", "no-tenant", "nothing"],
)
def test_calls_without_valid_auth_metadata_get_the_auth_error(org: Org, metadata) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        org.stub.GetTopic(org.pb2.TopicRequest(topic_name=ACCOUNTS), metadata=metadata)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_code(caught.value) == "sfdc.platform.eventbus.grpc.service.auth.error"
    sub = Subscriber(org, metadata=metadata, topic_name=ACCOUNTS, num_requested=1)
    assert error_code(sub.error()) == "sfdc.platform.eventbus.grpc.service.auth.error"
    assert "wrong" not in str(caught.value.details())


def test_unknown_topics_are_refused(org: Org) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        org.stub.GetTopic(
            org.pb2.TopicRequest(topic_name="/data/NopeChangeEvent"), metadata=METADATA
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    sub = Subscriber(org, topic_name="/data/NopeChangeEvent", num_requested=1)
    exc = sub.error()
    assert exc.code() == grpc.StatusCode.NOT_FOUND and "NopeChangeEvent" in exc.details()


def test_get_topic_and_get_schema_describe_the_channel(org: Org) -> None:
    info = org.stub.GetTopic(org.pb2.TopicRequest(topic_name=ACCOUNTS), metadata=METADATA)
    assert (info.topic_name, info.tenant_guid) == (ACCOUNTS, ORG_ID)
    assert info.can_subscribe and not info.can_publish and info.rpc_id
    schema = org.stub.GetSchema(org.pb2.SchemaRequest(schema_id=info.schema_id), metadata=METADATA)
    assert schema.schema_id == info.schema_id
    assert '"name":"AccountChangeEvent"' in schema.schema_json
    with pytest.raises(grpc.RpcError) as caught:
        org.stub.GetSchema(org.pb2.SchemaRequest(schema_id="nope"), metadata=METADATA)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_all_changes_channel_mixes_entities_each_with_its_schema_id(org: Org) -> None:
    txn = Txn().add("Account", "CREATE", account_id(1), {"Name": "A"})
    txn.add("Order", "CREATE", "801000000000001AAA", {"Name": "O", "Status": "Draft"})
    org.publisher.on_change(txn.batch())
    sub = Subscriber(
        org, topic_name="/data/ChangeEvents", replay_preset=org.pb2.EARLIEST, num_requested=10
    )
    try:
        account, order = sub.events(2)
        assert account.event.schema_id != order.event.schema_id
        assert names(org, [account, order]) == ["A", "O"]
    finally:
        sub.close()


def test_schema_change_mid_stream_gives_later_events_a_new_schema_id(org: Org) -> None:
    sub = Subscriber(org, topic_name=ACCOUNTS, replay_preset=org.pb2.LATEST, num_requested=10)
    try:
        sub.next()
        create_accounts(org.publisher, 1, 1)
        org.publisher.add_field("Account", FieldDef("Region__c", "string", custom=True))
        txn = Txn().add("Account", "CREATE", account_id(2), {"Name": "B", "Region__c": "EMEA"})
        org.publisher.on_change(txn.batch())
        before, after = sub.events(2)
        assert before.event.schema_id != after.event.schema_id
        new_schema = org.stub.GetSchema(
            org.pb2.SchemaRequest(schema_id=after.event.schema_id), metadata=METADATA
        )
        assert decode(new_schema.schema_json, after.event.payload)["Region__c"] == "EMEA"
        assert names(org, [before]) == ["Account 1"]
    finally:
        sub.close()


def test_gap_and_overflow_events_reach_subscribers(org: Org) -> None:
    sub = Subscriber(org, topic_name=ACCOUNTS, replay_preset=org.pb2.LATEST, num_requested=10)
    try:
        sub.next()
        org.bus.emit_gap("Account", [account_id(1)], "GAP_UPDATE")
        org.bus.emit_overflow("Account")
        gap, overflow = sub.events(2)
        info = org.stub.GetSchema(
            org.pb2.SchemaRequest(schema_id=gap.event.schema_id), metadata=METADATA
        )
        gap_header = decode(info.schema_json, gap.event.payload)["ChangeEventHeader"]
        overflow_header = decode(info.schema_json, overflow.event.payload)["ChangeEventHeader"]
        assert (gap_header["changeType"], gap_header["recordIds"]) == (
            "GAP_UPDATE",
            [account_id(1)],
        )
        assert (overflow_header["changeType"], overflow_header["recordIds"]) == ("GAP_OVERFLOW", [])
    finally:
        sub.close()


def test_publishing_to_a_change_event_channel_is_refused(org: Org) -> None:
    request = org.pb2.PublishRequest(
        topic_name=ACCOUNTS, events=[org.pb2.ProducerEvent(id="x", schema_id="y", payload=b"")]
    )
    with pytest.raises(grpc.RpcError) as caught:
        org.stub.Publish(request, metadata=METADATA)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "only subscribe" in caught.value.details()
