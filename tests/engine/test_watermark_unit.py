"""The commit watermark passes only contiguous completed offsets and releases their outputs."""

from __future__ import annotations

import pytest

from consumer.engine.messages import OutputMessage
from consumer.engine.watermark import OffsetWatermark


def out(name: str) -> OutputMessage:
    return OutputMessage("results", name.encode())


def test_out_of_order_completion_waits_for_the_gap() -> None:
    mark = OffsetWatermark()
    for offset in (5, 6, 8, 9):  # 7 was compacted away or is a transaction marker
        mark.track(offset)
    mark.complete(6, [out("six")])
    mark.complete(8, [out("eight")])
    assert mark.advance() == [] and mark.committable is None, "5 is still running"
    mark.complete(5, [out("five")])
    assert mark.advance() == [out("five"), out("six"), out("eight")]
    assert mark.committable == 9, "the hole at 7 does not block; 9 is still running"
    assert len(mark) == 1
    mark.complete(9)
    mark.advance()
    assert mark.committable == 10 and len(mark) == 0


def test_tracking_backwards_is_refused() -> None:
    mark = OffsetWatermark()
    mark.track(3)
    with pytest.raises(ValueError, match="delivered in order"):
        mark.track(3)


def test_completing_an_unknown_offset_is_refused() -> None:
    mark = OffsetWatermark()
    mark.track(3)
    with pytest.raises(KeyError):
        mark.complete(4)
