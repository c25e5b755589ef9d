"""Failures a real Pub/Sub service produces, injected on demand: dropped streams, expired
sessions, a spent delivery allocation, a client that stops asking."""

from __future__ import annotations

import time
from collections.abc import Iterator

import grpc
import pytest

from tests.org_simulator.cdc_support import (
    Org,
    Subscriber,
    create_accounts,
    error_code,
    running_org,
)

ACCOUNTS = "/data/AccountChangeEvent"


@pytest.fixture
def org() -> Iterator[Org]:
    with running_org(keepalive_s=0.2, pending_timeout_s=0.8) as running:
        yield running


def test_disconnected_streams_resume_from_the_last_replay_id(org: Org) -> None:
    create_accounts(org.publisher, 1, 3)
    sub = Subscriber(org, topic_name=ACCOUNTS, replay_preset=org.pb2.EARLIEST, num_requested=50)
    received = sub.events(3)
    assert org.server.disconnect_streams() == 1
    exc = sub.error()
    assert exc.code() == grpc.StatusCode.UNAVAILABLE
    assert error_code(exc) == "sfdc.platform.eventbus.grpc.service.unavailable"
    later = create_accounts(org.publisher, 4, 2)
    resumed = Subscriber(
        org,
        topic_name=ACCOUNTS,
        replay_preset=org.pb2.CUSTOM,
        replay_id=received[-1].replay_id,
        num_requested=50,
    )
    try:
        assert [e.replay_id for e in resumed.events(2)] == later
    finally:
        resumed.close()


def test_an_expired_session_ends_the_stream_with_the_auth_error(org: Org) -> None:
    sub = Subscriber(org, topic_name=ACCOUNTS, num_requested=5)
    sub.next()
    assert org.server.expire_sessions() == 1
    exc = sub.error()
    assert exc.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_code(exc) == "sfdc.platform.eventbus.grpc.service.auth.error"


def test_a_spent_delivery_allocation_stops_delivery_with_the_limit_error(org: Org) -> None:
    create_accounts(org.publisher, 1, 10)
    org.server.set_delivery_allocation(6)
    sub = Subscriber(org, topic_name=ACCOUNTS, replay_preset=org.pb2.EARLIEST, num_requested=100)
    delivered = []
    with pytest.raises(grpc.RpcError) as caught:
        while True:
            delivered.extend(sub.next().events)
    assert len(delivered) == 6
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error_code(caught.value) == "sfdc.platform.eventbus.grpc.subscription.limit.exceeded"
    again = Subscriber(org, topic_name=ACCOUNTS, replay_preset=org.pb2.EARLIEST, num_requested=1)
    assert error_code(again.error()) == "sfdc.platform.eventbus.grpc.subscription.limit.exceeded"


def test_a_stream_that_asks_for_nothing_gets_keepalives_then_is_closed(org: Org) -> None:
    create_accounts(org.publisher, 1, 2)
    sub = Subscriber(org, topic_name=ACCOUNTS, replay_preset=org.pb2.EARLIEST, num_requested=0)
    started = time.monotonic()
    responses = []
    with pytest.raises(StopIteration):
        while True:
            responses.append(sub.next(timeout=3))
    assert responses and all(len(r.events) == 0 for r in responses)
    assert 0.7 <= time.monotonic() - started < 3


def test_a_negative_request_is_rejected(org: Org) -> None:
    sub = Subscriber(org, topic_name=ACCOUNTS, num_requested=-1)
    exc = sub.error()
    assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "num_requested" in exc.details()
