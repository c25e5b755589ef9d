"""How far behind Salesforce the bridge is, per channel, from its checkpoint topic."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cpqsync.app.ops.status_report import ChannelCheckpoint
from producer_bridge.checkpoint_store import load_checkpoints
from schemas.codec import Codec


def checkpoint_ages(
    bootstrap: str,
    topic: str,
    codec: Codec,
    now: dt.datetime,
    timeout_s: float = 30.0,
    extra_config: dict[str, Any] | None = None,
) -> list[ChannelCheckpoint]:
    checkpoints = load_checkpoints(bootstrap, topic, codec, timeout_s, extra_config)
    rows = []
    for channel, checkpoint in sorted(checkpoints.items()):
        committed = checkpoint.commit_timestamp
        rows.append(
            ChannelCheckpoint(
                channel=channel,
                replay_id=checkpoint.replay_id.hex(),
                commit_timestamp=committed,
                updated_at=checkpoint.updated_at,
                # An idle checkpoint (null commit time) was current when it was written.
                position_age_s=(now - (committed or checkpoint.updated_at)).total_seconds(),
                written_age_s=(now - checkpoint.updated_at).total_seconds(),
            )
        )
    return rows
