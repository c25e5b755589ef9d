"""Key order, key exclusivity, retries and revocation in the scheduler, without Kafka."""

from __future__ import annotations

from consumer.engine.messages import Message, OutputMessage
from consumer.engine.scheduler import KeyOrderedScheduler


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def msg(offset: int, key: str | None, partition: int = 0) -> Message[int]:
    return Message("t", partition, offset, key.encode() if key else None, offset, b"")


def offsets(batch: list) -> list[int]:  # type: ignore[type-arg]
    return [entry.message.offset for entry in batch]


def test_one_key_at_a_time_in_offset_order_and_other_keys_go_on() -> None:
    s = KeyOrderedScheduler()
    s.assign([("t", 0)])
    s.submit([msg(0, "a"), msg(1, "a"), msg(2, "b"), msg(3, "a")])
    first = s.take(10, timeout=0)
    assert offsets(first) == [0, 2], "only each key's head is ready"
    assert s.take(10, timeout=0) == [], "a's next waits for a's head"
    s.complete(first[0], [])
    assert offsets(s.take(10, timeout=0)) == [1]


def test_messages_without_key_run_independently() -> None:
    s = KeyOrderedScheduler()
    s.assign([("t", 0)])
    s.submit([msg(0, None), msg(1, None), msg(2, None)])
    assert offsets(s.take(10, timeout=0)) == [0, 1, 2]


def test_retry_parks_the_key_until_the_delay_has_passed() -> None:
    clock = FakeClock()
    s = KeyOrderedScheduler(clock=clock)
    s.assign([("t", 0)])
    s.submit([msg(0, "a"), msg(1, "a"), msg(2, "b")])
    entries = s.take(10, timeout=0)
    a0 = entries[0]
    s.retry(a0, delay=5.0)
    assert s.take(10, timeout=0) == [], "a is parked; its next message must not overtake it"
    clock.now += 5.0
    again = s.take(10, timeout=0)
    assert offsets(again) == [0] and again[0].message.attempt == 2


def test_held_work_waits_and_parked_messages_go_first_uncounted() -> None:
    """While a dependency is down nothing is handed out; a message parked for it keeps its
    attempt number, blocks its key and its offset, and runs first once work resumes."""
    s = KeyOrderedScheduler()
    s.assign([("t", 0)])
    s.submit([msg(0, "a"), msg(1, "a"), msg(2, "b")])
    a0, b2 = s.take(10, timeout=0)
    s.hold()
    s.park(a0)
    s.complete(b2, [])
    s.submit([msg(3, "c")])
    assert s.take(10, timeout=0) == [], "nothing is handed out while held"
    assert s.collect() == {}, "nothing is committable past the parked message"
    s.resume()
    again = s.take(10, timeout=0)
    assert offsets(again) == [0, 3]
    assert again[0].message.attempt == 1, "an outage is not an attempt"
    s.complete(again[0], [])
    assert offsets(s.take(10, timeout=0)) == [1], "a's next message only after it"


def test_a_message_parked_after_its_dependency_came_back_runs_again() -> None:
    """A worker's failure can arrive after a quick probe already resumed the work: parking it
    then must not leave it waiting for a resume that already happened."""
    s = KeyOrderedScheduler()
    s.assign([("t", 0)])
    s.submit([msg(0, "a")])
    [a0] = s.take(10, timeout=0)
    s.hold()
    s.resume()  # the probe answered before the failure was settled
    s.park(a0)
    again = s.take(10, timeout=0)
    assert offsets(again) == [0] and again[0].message.attempt == 1


def test_watermark_released_outputs_in_offset_order() -> None:
    s = KeyOrderedScheduler()
    s.assign([("t", 0)])
    s.submit([msg(0, "a"), msg(1, "b")])
    a, b = s.take(10, timeout=0)
    s.complete(b, [OutputMessage("r", b"b")])
    assert s.collect() == {}, "offset 0 is still running"
    s.complete(a, [OutputMessage("r", b"a")])
    assert s.collect() == {("t", 0): (2, [OutputMessage("r", b"a"), OutputMessage("r", b"b")])}


def test_revocation_drops_queued_work_and_ignores_late_completions() -> None:
    s = KeyOrderedScheduler()
    s.assign([("t", 0), ("t", 1)])
    s.submit([msg(0, "a", 0), msg(1, "a", 0), msg(0, "b", 1)])
    running = s.take(1, timeout=0)
    assert offsets(running) == [0] and running[0].message.partition == 0
    s.stop_taking([("t", 0)])
    assert not s.wait_settled([("t", 0)], timeout=0.01), "offset 0 still runs"
    s.complete(running[0], [])
    assert s.wait_settled([("t", 0)], timeout=0.01)
    assert s.collect([("t", 0)]) == {("t", 0): (1, [])}, "the finished work still commits"
    s.remove([("t", 0)])
    remaining = s.take(10, timeout=0)
    assert [(e.message.partition, e.message.offset) for e in remaining] == [(1, 0)]
    assert s.buffered() == {("t", 1): 1}


def test_work_is_shared_among_idle_workers() -> None:
    s = KeyOrderedScheduler()
    s.assign([("t", 0)])
    s.submit([msg(i, f"k{i}") for i in range(10)])
    assert len(s.take(100, timeout=0)) == 10, "a lone worker takes everything (up to its max)"
    s.submit([msg(i, f"k{i}") for i in range(10, 14)])
    assert len(s.take(2, timeout=0)) == 2, "never more than max_size"


def test_entries_passed_by_the_watermark_carry_new_messages_correctly() -> None:
    s = KeyOrderedScheduler()
    s.assign([("t", 0), ("t", 1)])
    s.submit([msg(0, "a"), msg(1, "b"), msg(2, "a")])
    first = s.take(10, timeout=0)
    s.complete_many(first, [[OutputMessage("r", b"0")], []])
    second = s.take(10, timeout=0)
    assert offsets(second) == [2], "a's next message only after a's first completed"
    s.complete_many(second, [[OutputMessage("r", b"2")]])
    assert s.collect() == {
        ("t", 0): (3, [OutputMessage("r", b"0"), OutputMessage("r", b"2")]),
    }
    # The next fetch reuses those entries: nothing of the old messages may show through.
    s.submit([msg(3, "b"), msg(4, "c"), msg(0, "a", partition=1), msg(5, "b")])
    batch = s.take(10, timeout=0)
    assert [(e.message.partition, e.message.offset) for e in batch] == [(0, 3), (0, 4), (1, 0)]
    assert all(e.message.attempt == 1 for e in batch)
    s.complete_many(batch, [[], [OutputMessage("r", b"4")], []])
    assert s.collect() == {("t", 0): (5, [OutputMessage("r", b"4")]), ("t", 1): (1, [])}, (
        "offset 5 (b's second) has not run yet"
    )
    assert offsets(s.take(10, timeout=0)) == [5]
