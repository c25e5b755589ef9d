"""The commit watermark passes only contiguous completed offsets and releases their outputs."""

from __future__ import annotations

import pytest

from consumer.engine.messages import OutputMessage
from consumer.engine.watermark import OffsetWatermark, Tracked


def out(name: str) -> OutputMessage:
    return OutputMessage("results", name.encode())


def test_out_of_order_completion_waits_for_the_gap() -> None:
    mark: OffsetWatermark[Tracked] = OffsetWatermark()
    items = {offset: Tracked(offset) for offset in (5, 6, 8, 9)}  # 7: compacted or a marker
    for item in items.values():
        mark.track(item)
    items[6].complete([out("six")])
    items[8].complete([out("eight")])
    assert mark.advance() == [] and mark.committable is None, "5 is still running"
    items[5].complete([out("five")])
    assert mark.advance() == [out("five"), out("six"), out("eight")]
    assert mark.committable == 9, "the hole at 7 does not block; 9 is still running"
    assert len(mark) == 1 and mark.next_offset == 10
    items[9].complete()
    assert mark.advance() == []
    assert mark.committable == 10 and len(mark) == 0


def test_a_large_contiguous_batch_passes_in_one_advance() -> None:
    mark: OffsetWatermark[Tracked] = OffsetWatermark()
    items = [Tracked(offset) for offset in range(1000, 3000)]
    for item in items:
        mark.track(item)
    for item in reversed(items[1:]):  # completed out of order, the first one last
        item.complete()
    assert mark.advance() == [] and len(mark) == 2000
    items[0].complete([out("first")])
    assert mark.advance() == [out("first")]
    assert mark.committable == 3000 and len(mark) == 0


def test_tracking_backwards_is_refused() -> None:
    mark: OffsetWatermark[Tracked] = OffsetWatermark()
    mark.track(Tracked(3))
    with pytest.raises(ValueError, match="delivered in order"):
        mark.track(Tracked(3))


def test_splitting_an_item_keeps_its_place_and_the_message_count() -> None:
    class Group(Tracked):
        __slots__ = ("size",)

        def __init__(self, offset: int, size: int) -> None:
            super().__init__(offset)
            self.size = size

    mark: OffsetWatermark[Tracked] = OffsetWatermark()
    before, group, after = Tracked(0), Group(3, 3), Tracked(4)
    mark.track_run([before, group, after], [0, 1, 2, 3, 4])
    assert len(mark) == 5
    parts = [Tracked(offset) for offset in (1, 2, 3)]
    mark.split(group, parts)
    assert len(mark) == 5
    for item in (before, parts[0], parts[2], after):
        item.complete()
    mark.advance()
    assert mark.committable == 2, "offset 2 is not done: the watermark stops before it"
    parts[1].complete()
    mark.advance()
    assert mark.committable == 5 and len(mark) == 0
