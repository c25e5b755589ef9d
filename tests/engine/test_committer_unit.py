"""Routine commits do not wait for the broker; a handover still leaves nothing unconfirmed."""

from __future__ import annotations

from typing import Any

from consumer.engine.committer import OffsetCommitter


class RecordingConsumer:
    """Our own seam: the committer only calls ``commit`` on the consumer."""

    def __init__(self) -> None:
        self.commits: list[tuple[bool, dict[tuple[str, int], int]]] = []

    def commit(self, *, offsets: list[Any], asynchronous: bool) -> list[Any]:
        self.commits.append((asynchronous, {(tp.topic, tp.partition): tp.offset for tp in offsets}))
        return []


class IdleProducer:
    def flush(self, timeout: float) -> int:
        return 0


def committer(consumer: RecordingConsumer) -> OffsetCommitter:
    return OffsetCommitter(consumer, IdleProducer(), transactional=False, timeout_s=1.0)


def test_routine_commits_do_not_wait_but_revocation_confirms_them() -> None:
    consumer = RecordingConsumer()
    offsets = committer(consumer)
    offsets.commit({("t", 0): (10, []), ("t", 1): (7, [])}, wait=False)
    assert consumer.commits == [(True, {("t", 0): 10, ("t", 1): 7})]
    # Partition 0 is revoked with nothing new done: its last offset is committed again,
    # waiting this time, so its next owner cannot start from an older one.
    offsets.commit({}, wait=True, settling=[("t", 0)])
    assert consumer.commits[-1] == (False, {("t", 0): 10})
    offsets.commit({}, wait=True, settling=[("t", 0)])
    assert len(consumer.commits) == 2, "once confirmed, there is nothing left to confirm"
    offsets.commit({("t", 1): (9, [])}, wait=True, settling=None)
    assert consumer.commits[-1] == (False, {("t", 1): 9})


def test_a_lost_partition_is_never_committed_again() -> None:
    consumer = RecordingConsumer()
    offsets = committer(consumer)
    offsets.commit({("t", 0): (10, [])}, wait=False)
    offsets.forget([("t", 0)])  # lost: another member owns it and may be past offset 10
    offsets.commit({}, wait=True, settling=None)
    assert consumer.commits == [(True, {("t", 0): 10})]
