"""The event bus behind the server: channels, replay positions, retention."""

from __future__ import annotations

import pytest

from cpqsync_sandbox.org.cdc.publisher import ChangePublisher
from cpqsync_sandbox.org.pubsub.bus import EventBus, UnknownTopicError
from cpqsync_sandbox.org.pubsub.replay import CorruptedReplayIdError
from cpqsync_sandbox.org.schema import OBJECTS
from tests.org_simulator.cdc_support import Txn, account_id, create_accounts


def make() -> tuple[EventBus, ChangePublisher]:
    bus = EventBus(retention_hours=2)
    return bus, ChangePublisher(bus, OBJECTS)


def test_a_custom_channel_carries_only_its_entities() -> None:
    bus, publisher = make()
    bus.add_custom_channel("/data/Billing__chn", ["Order", "OrderItem"])
    txn = Txn().add("Account", "CREATE", account_id(1), {"Name": "A"})
    txn.add("Order", "CREATE", "801000000000001AAA", {"Name": "O"})
    publisher.on_change(txn.batch())
    assert [e.entity for e in bus.events_after("/data/Billing__chn", 0, 10)] == ["Order"]
    assert bus.topic_schema_id("/data/Billing__chn") == ""
    with pytest.raises(ValueError, match="__chn"):
        bus.add_custom_channel("/data/Billing", ["Order"])


def test_one_channels_replay_ids_skip_other_channels_events() -> None:
    bus, publisher = make()
    for n in range(3):
        txn = Txn().add("Account", "CREATE", account_id(n), {"Name": "A"})
        txn.add("Order", "CREATE", f"80100000000000{n}AAA", {"Name": "O"})
        publisher.on_change(txn.batch())
    positions = [e.position for e in bus.events_after("/data/AccountChangeEvent", 0, 10)]
    assert positions == [1, 3, 5]


def test_retention_drops_old_events_and_earliest_starts_after_them() -> None:
    bus, publisher = make()
    (old,) = create_accounts(publisher, 1, 1)
    bus.advance_clock(1.5)
    (kept,) = create_accounts(publisher, 2, 1)
    bus.advance_clock(1.0)  # the first event is now 2.5 h old, the second 1 h
    channel = "/data/AccountChangeEvent"
    start = bus.start_position(channel, "EARLIEST")
    assert [e.replay_id for e in bus.events_after(channel, start, 10)] == [kept]
    with pytest.raises(CorruptedReplayIdError, match="retention"):
        bus.start_position(channel, "CUSTOM", old)
    assert bus.start_position(channel, "CUSTOM", kept) == start + 1
    with pytest.raises(ValueError, match="forward"):
        bus.advance_clock(-1)


def test_replay_ids_from_another_org_instance_are_rejected() -> None:
    bus, publisher = make()
    _, other_publisher = make()
    (foreign,) = create_accounts(other_publisher, 1, 1)
    create_accounts(publisher, 1, 1)
    with pytest.raises(CorruptedReplayIdError, match="another org"):
        bus.start_position("/data/AccountChangeEvent", "CUSTOM", foreign)


def test_unknown_channels_are_named_in_the_error() -> None:
    bus, _ = make()
    with pytest.raises(UnknownTopicError, match="/data/FooChangeEvent"):
        bus.start_position("/data/FooChangeEvent", "LATEST")
