"""The live-sync switch on its compacted control topic, with a real broker."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from consumer.sync.live_switch import LiveSwitch, decode_switch, encode_switch, publish_live
from cpqsync.settings import KafkaSettings
from tests.sync.stack import wait_for

pytestmark = pytest.mark.integration


def test_the_settings_decide_until_the_topic_says_otherwise(
    kafka: str, new_topic: Callable[..., str]
) -> None:
    topic = new_topic("control", partitions=1, config={"cleanup.policy": "compact"})
    settings = KafkaSettings()
    switch = LiveSwitch(settings, kafka, topic, default=True).start()
    try:
        assert switch.is_live() and not switch.set_by_topic
        publish_live(settings, kafka, topic, False, "ops")
        wait_for(lambda: not switch.is_live(), timeout=15)
        assert switch.set_by_topic
    finally:
        switch.stop()
    publish_live(settings, kafka, topic, True, "ops")
    publish_live(settings, kafka, topic, False, "ops")
    later = LiveSwitch(settings, kafka, topic, default=True).start()  # reads to the end first
    try:
        assert not later.is_live()
    finally:
        later.stop()


def test_unreadable_records_leave_the_switch_alone() -> None:
    assert decode_switch(encode_switch(False, "me")) is False
    assert decode_switch(b"") is None
    assert decode_switch(b"not json") is None
    assert decode_switch(b'{"live": "yes"}') is None
