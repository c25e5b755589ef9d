"""What a group member owns after a rebalance, for whoever sizes its work by it (pacing)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from consumer.engine.messages import PartitionId


@dataclass(frozen=True)
class Assignment:
    """The partitions this member owns now, and how many partitions each subscribed topic has.

    Reported after every assign, revoke and loss, so ``owned`` is the whole current
    assignment, not the change (cooperative rebalancing reports changes).
    """

    owned: frozenset[PartitionId]
    partition_counts: Mapping[str, int]

    def share_of(self, topics: Collection[str]) -> tuple[int, int]:
        """(partitions of ``topics`` owned here, all partitions of ``topics`` whose count is
        known)."""
        wanted = set(topics)
        owned = sum(1 for topic, _ in self.owned if topic in wanted)
        total = sum(count for topic, count in self.partition_counts.items() if topic in wanted)
        return owned, total
