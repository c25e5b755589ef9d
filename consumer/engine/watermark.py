"""Which offset of a partition is safe to commit.

Workers finish messages out of order, so the committable position is the
offset after the highest *contiguous* completed message: a watermark that
never passes a message still in progress. Offsets the broker never delivered
(compaction holes, transaction markers) are simply never tracked, so they
never block it. Each completed message keeps its outputs until the watermark
passes it; they are produced right before the commit that covers it.

The watermark keeps the tracked items themselves, in offset order, rather
than offsets in a side table: completing one is a single attribute store on
an object the worker already holds, and advancing pops a contiguous run of
completed items from the front, so a batch costs O(batch) with no lookups
and no per-offset bookkeeping for holes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from operator import attrgetter, lt
from typing import Generic, TypeVar

from consumer.engine.messages import OutputMessage


class Tracked:
    """One offset the watermark waits for; ``outputs`` stays None until it completed.

    An item may stand for several messages (a run handed out as one unit): then
    ``offset`` is the run's last offset and ``size`` how many messages it holds,
    which is what the watermark counts for backpressure.
    """

    __slots__ = ("offset", "outputs")
    size = 1

    def __init__(self, offset: int) -> None:
        self.offset = offset
        self.outputs: Sequence[OutputMessage] | None = None

    def complete(self, outputs: Sequence[OutputMessage] = ()) -> None:
        self.outputs = outputs


_offset = attrgetter("offset")


ItemT = TypeVar("ItemT", bound=Tracked)


class OffsetWatermark(Generic[ItemT]):
    """Not thread-safe; the scheduler guards it with its lock."""

    __slots__ = ("_committable", "_count", "_last_tracked", "_tracked")

    def __init__(self) -> None:
        self._tracked: deque[ItemT] = deque()
        self._last_tracked = -1
        self._committable: int | None = None
        self._count = 0  # messages, not items: a run counts for each of its messages

    def __len__(self) -> int:
        """Messages fetched but not yet passed by the watermark (what backpressure bounds)."""
        return self._count

    @property
    def committable(self) -> int | None:
        """The offset to commit (next to read), or None before anything completed."""
        return self._committable

    def track(self, item: ItemT) -> None:
        """Wait for ``item``; items must come in increasing offset order, as Kafka delivers."""
        if item.offset <= self._last_tracked:
            raise ValueError(
                f"offset {item.offset} tracked after {self._last_tracked}: a partition must be "
                "delivered in order (was it reassigned without resetting its watermark?)"
            )
        self._tracked.append(item)
        self._last_tracked = item.offset
        self._count += item.size

    def track_run(self, items: Sequence[ItemT], offsets: Sequence[int] | None = None) -> None:
        """``track`` for a fetched run of one partition: the same order check, per run.

        ``offsets`` are the run's message offsets when ``items`` group several
        messages each (the check then covers every message, not only each item's last).
        """
        if not items:
            return
        if offsets is None:
            offsets = list(map(_offset, items))
            count = len(items)
        else:
            count = len(offsets)
        if offsets[0] <= self._last_tracked or not all(map(lt, offsets, offsets[1:])):
            raise ValueError(
                f"offsets {offsets[0]}..{offsets[-1]} tracked after {self._last_tracked}, or not "
                "increasing: a partition must be delivered in order (was it reassigned without "
                "resetting its watermark?)"
            )
        self._tracked.extend(items)
        self._last_tracked = offsets[-1]
        self._count += count

    def split(self, item: ItemT, parts: Sequence[ItemT]) -> None:
        """Track ``parts`` (the same messages, each on its own) where ``item`` stood.

        A run handed out as one unit is split when one of its messages failed:
        the rest complete, and the failed one holds the watermark on its own.
        """
        tracked = self._tracked
        at = tracked.index(item)
        tracked.rotate(-at)
        tracked.popleft()
        tracked.extendleft(reversed(parts))
        tracked.rotate(at)
        self._count += sum(part.size for part in parts) - item.size

    @property
    def next_offset(self) -> int | None:
        """The offset after the last one tracked (where fetching continues), None before any."""
        return self._last_tracked + 1 if self._last_tracked >= 0 else None

    def advance(self, passed: list[ItemT] | None = None) -> list[OutputMessage]:
        """Move past every contiguous completed item; return the outputs they left, in order.

        The items moved past are appended to ``passed`` if given (for reuse).
        """
        tracked = self._tracked
        outputs: list[OutputMessage] = []
        last: ItemT | None = None
        count = 0
        while tracked:
            item = tracked[0]
            left = item.outputs
            if left is None:
                break
            tracked.popleft()
            if left:
                outputs.extend(left)
            last = item
            count += item.size
            if passed is not None:
                passed.append(item)
        if last is not None:
            self._committable = last.offset + 1
            self._count -= count
        return outputs
