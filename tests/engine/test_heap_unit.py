"""The startup heap stays frozen while any engine runs, and thaws when the last one stops."""

from __future__ import annotations

import gc

from consumer.engine.heap import startup_heap_frozen


def test_the_heap_thaws_only_when_the_last_engine_stops() -> None:
    assert gc.get_freeze_count() == 0
    with startup_heap_frozen():
        assert gc.get_freeze_count() > 0
        with startup_heap_frozen():
            assert gc.get_freeze_count() > 0
        assert gc.get_freeze_count() > 0, "the first engine still runs: stay frozen"
    assert gc.get_freeze_count() == 0, "garbage made before the engines is collectable again"


def test_disabled_it_leaves_the_collector_alone() -> None:
    with startup_heap_frozen(enabled=False):
        assert gc.get_freeze_count() == 0


def test_an_engine_failing_still_thaws_the_heap() -> None:
    try:
        with startup_heap_frozen():
            raise RuntimeError("the engine stopped with an error")
    except RuntimeError:
        pass
    assert gc.get_freeze_count() == 0
