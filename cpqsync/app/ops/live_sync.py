"""Whether live sync is on right now, as every sync process sees it.

The sync consumer owns the switch (``consumer.sync.live_switch``): the newest
record under the key ``sync.live`` on the compacted control topic, or
``sync.live`` from the settings when no record exists. This reads the same
record with the sync consumer's own decoder, so both can never disagree. If
that module is not importable (an install without the sync role), the runtime
state is reported as unknown rather than guessed.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

from cpqsync.app.ops.partition_bounds import (
    UnknownTopicError,
    partition_bounds,
    probe_consumer,
    topic_partitions,
)
from cpqsync.app.ops.range_reader import RangeReader
from cpqsync.app.ops.status_report import LiveSyncState
from cpqsync.settings import Settings

_SWITCH_MODULE = "consumer.sync.live_switch"


def live_sync_state(
    settings: Settings,
    bootstrap: str,
    control_topic: str,
    timeout_s: float = 30.0,
    extra_config: dict[str, Any] | None = None,
) -> LiveSyncState:
    configured = settings.sync.live
    try:
        switch = importlib.import_module(_SWITCH_MODULE)
    except ImportError:
        return LiveSyncState(
            configured=configured,
            runtime="unknown",
            source=f"{_SWITCH_MODULE} is not installed, so the switch cannot be read",
        )
    key: bytes = switch.LIVE_KEY
    latest = _latest_value(bootstrap, control_topic, key, timeout_s, extra_config)
    if latest is None:
        return LiveSyncState(
            configured=configured,
            runtime=_on_off(configured),
            source=f"no switch on {control_topic}: sync.live from the settings applies",
        )
    live = switch.decode_switch(latest)
    if live is None:
        return LiveSyncState(
            configured=configured,
            runtime="unknown",
            source=f"the newest switch record on {control_topic} is unreadable",
        )
    return LiveSyncState(
        configured=configured, runtime=_on_off(live), source=_provenance(latest, control_topic)
    )


def _latest_value(
    bootstrap: str,
    topic: str,
    key: bytes,
    timeout_s: float,
    extra_config: dict[str, Any] | None,
) -> bytes | None:
    probe = probe_consumer(bootstrap, extra_config)
    try:
        partitions = topic_partitions(probe, [topic], timeout_s)
    except UnknownTopicError:
        return None
    finally:
        probe.close()
    bounds = partition_bounds(bootstrap, partitions, timeout_s, extra_config)
    latest: bytes | None = None
    reader = RangeReader(
        bootstrap, {k: (b.low, b.end) for k, b in bounds.items()}, timeout_s, extra_config
    )
    for message in reader:  # one key lives in one partition, so offset order is time order
        if message.key() == key:
            latest = message.value()
    return latest


def _provenance(value: bytes, topic: str) -> str:
    try:
        document = json.loads(value)
        return f"set on {topic} by {document['changed_by']} at {document['changed_at']}"
    except (ValueError, KeyError, TypeError):
        return f"set on {topic}"


def _on_off(live: bool) -> str:
    return "on" if live else "off"
