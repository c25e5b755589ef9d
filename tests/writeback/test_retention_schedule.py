"""When retention runs: on its interval, and early once enough records were created."""

from __future__ import annotations

import threading
import time
from typing import cast

from consumer.writeback.retention import Retention, RetentionWorker


class _CountingRetention:
    def __init__(self) -> None:
        self.runs = 0
        self.ran = threading.Event()

    def run_once(self) -> int:
        self.runs += 1
        self.ran.set()
        return 0


def test_a_large_batch_triggers_a_pass_before_the_interval() -> None:
    retention = _CountingRetention()
    worker = RetentionWorker(cast(Retention, retention), interval_s=60, after_created=100)
    worker.start()
    try:
        worker.records_created(60)
        assert not retention.ran.wait(0.3)
        worker.records_created(50)
        assert retention.ran.wait(2)
        assert retention.runs == 1
    finally:
        worker.stop()


def test_passes_run_on_the_interval_without_any_writes() -> None:
    retention = _CountingRetention()
    worker = RetentionWorker(cast(Retention, retention), interval_s=0.1, after_created=10_000)
    worker.start()
    try:
        time.sleep(0.55)
    finally:
        worker.stop()
    assert 3 <= retention.runs <= 6
