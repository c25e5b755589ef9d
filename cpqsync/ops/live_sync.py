"""Whether live sync is on right now.

The sync consumer owns the runtime switch (issue 9: a compacted control topic
or a config reload); until it publishes a way to read it, the runtime state is
reported as unknown rather than guessed from this process's configuration.
"""

from __future__ import annotations

from cpqsync.ops.status_report import LiveSyncState
from cpqsync.settings import Settings


def live_sync_state(settings: Settings) -> LiveSyncState:
    return LiveSyncState(
        configured=settings.sync.live,
        runtime="unknown",
        source="the sync consumer does not expose its live-sync switch yet",
    )
