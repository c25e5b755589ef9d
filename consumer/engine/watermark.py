"""Which offset of a partition is safe to commit.

Workers finish messages out of order, so the committable position is the
offset after the highest *contiguous* completed message: a watermark that
never passes a message still in progress. Offsets the broker never delivered
(compaction holes, transaction markers) are simply not tracked, so they never
block it. Each completed message keeps its outputs until the watermark passes
it; they are produced right before the commit that covers it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from consumer.engine.messages import OutputMessage


class OffsetWatermark:
    """Not thread-safe; the scheduler guards it with its lock."""

    def __init__(self) -> None:
        # Offset order: Kafka delivers a partition in order. A deque, because a dict
        # emptied from the front makes ``next(iter(...))`` scan the holes it leaves.
        self._tracked: deque[int] = deque()
        self._done: dict[int, Sequence[OutputMessage]] = {}
        self._last_tracked = -1
        self._committable: int | None = None

    def __len__(self) -> int:
        """Messages fetched but not yet passed by the watermark (what backpressure bounds)."""
        return len(self._tracked)

    @property
    def committable(self) -> int | None:
        """The offset to commit (next to read), or None before anything completed."""
        return self._committable

    def track(self, offset: int) -> None:
        if offset <= self._last_tracked:
            raise ValueError(
                f"offset {offset} tracked after {self._last_tracked}: a partition must be "
                "delivered in order (was it reassigned without resetting its watermark?)"
            )
        self._tracked.append(offset)
        self._last_tracked = offset

    def complete(self, offset: int, outputs: Sequence[OutputMessage] = ()) -> None:
        if not self._tracked or not self._tracked[0] <= offset <= self._last_tracked:
            raise KeyError(f"offset {offset} is not in progress")
        self._done[offset] = outputs

    def advance(self) -> list[OutputMessage]:
        """Move past every contiguous completed message; return the outputs they left."""
        outputs: list[OutputMessage] = []
        tracked, done = self._tracked, self._done
        while tracked:
            left = done.pop(tracked[0], None)
            if left is None:
                break
            offset = tracked.popleft()
            outputs.extend(left)
            self._committable = offset + 1
        return outputs
