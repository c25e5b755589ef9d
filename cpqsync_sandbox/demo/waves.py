"""Activating orders in waves, as users across a sales team would through the day.

Waves (rather than everything at once) show the pipeline keeping up with a
stream of activations: each wave's changes flow through the bridge, sync and
writeback while the next one arrives.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from cpqsync_sandbox.demo.org_client import OrgClient


def split_waves(order_ids: Sequence[str], waves: int) -> list[list[str]]:
    """``waves`` near-equal, non-empty groups in order (fewer when there are fewer orders)."""
    if waves < 1:
        raise ValueError(f"waves must be at least 1, got {waves}")
    count = min(waves, len(order_ids))
    if count == 0:
        return []
    size, extra = divmod(len(order_ids), count)
    groups, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        groups.append(list(order_ids[start:end]))
        start = end
    return groups


@dataclass
class WaveDriver:
    """Activates wave ``i`` once ``i * interval_s`` seconds have passed since the first."""

    org: OrgClient
    waves: list[list[str]]
    interval_s: float
    started_at: float | None = None
    sent: int = 0

    @property
    def activated(self) -> int:
        return sum(len(wave) for wave in self.waves[: self.sent])

    @property
    def done(self) -> bool:
        return self.sent == len(self.waves)

    def activate_due(self, activated_at: dict[str, float], clock_start: float) -> int:
        """Send every wave that is due; returns how many orders were activated now."""
        now = time.monotonic()
        if self.started_at is None:
            self.started_at = now
        count = 0
        while not self.done and now >= self.started_at + self.sent * self.interval_s:
            wave = self.waves[self.sent]
            self.org.activate(wave)
            at = time.monotonic() - clock_start
            activated_at.update({order_id: at for order_id in wave})
            self.sent += 1
            count += len(wave)
        return count
