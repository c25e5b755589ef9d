"""When to stop fetching: bounds on what is buffered, with hysteresis.

Buffered means fetched and not yet passed by the commit watermark, which is
what costs memory (completed messages behind a slow one still hold their
outputs). Rather than stop calling poll, which would get the member expelled
after ``max.poll.interval.ms``, the engine pauses the partitions and keeps
polling; librdkafka delivers nothing for a paused partition and resumes it
from where the application stopped.
"""

from __future__ import annotations

from collections.abc import Mapping, Set

from consumer.engine.messages import PartitionId


class FlowControl:
    def __init__(
        self, max_buffered: int, max_buffered_per_partition: int, resume_at: float = 0.5
    ) -> None:
        if max_buffered < 1 or max_buffered_per_partition < 1:
            raise ValueError("buffer limits must be >= 1")
        if not 0 < resume_at < 1:
            raise ValueError(f"resume_at is a fraction of the limit, got {resume_at}")
        self.max_buffered = max_buffered
        self.max_buffered_per_partition = max_buffered_per_partition
        self._resume_total = int(max_buffered * resume_at)
        self._resume_partition = int(max_buffered_per_partition * resume_at)
        self._all_paused = False

    def fetch_budget(
        self, buffered: Mapping[PartitionId, int], total: int, paused: Set[PartitionId]
    ) -> int:
        """How many messages one fetch may bring in without passing a limit.

        A fetch may return any fetching partition's messages, so it is capped by
        the room of the fullest one too (partitions resume at half their bound,
        so that room is rarely small).
        """
        room = self.max_buffered - total
        for partition, count in buffered.items():
            if partition not in paused:
                room = min(room, self.max_buffered_per_partition - count)
        return max(0, room)

    def decide(
        self, buffered: Mapping[PartitionId, int], paused: Set[PartitionId]
    ) -> tuple[list[PartitionId], list[PartitionId]]:
        """Partitions to pause and to resume now, given what each has buffered."""
        total = sum(buffered.values())
        if total >= self.max_buffered:
            self._all_paused = True
        elif self._all_paused and total <= self._resume_total:
            self._all_paused = False
        to_pause, to_resume = [], []
        for partition, count in buffered.items():
            was_paused = partition in paused
            want_paused = (
                self._all_paused
                or count >= self.max_buffered_per_partition
                or (was_paused and count > self._resume_partition)
            )
            if want_paused and not was_paused:
                to_pause.append(partition)
            elif was_paused and not want_paused:
                to_resume.append(partition)
        return to_pause, to_resume
