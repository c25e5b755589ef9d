"""Sync Record retention (rule S1): keep the newest ``sync.record_retention`` non-Error records.

Error records are never deleted and do not count against the limit: they are
the ones a person still has to look at, and a burst of errors must not evict
the history of what synced. Everything else (Success, Resolved, Skipped) is
deleted oldest first, by the attempt time the record describes, with
collection deletes of 200 ids a call.

A pass runs every ``writeback.retention_interval_s`` and, sooner, once
``writeback.retention_after_created`` records were created since the last
pass, so a large backlog does not overshoot the limit for a whole interval.
"""

from __future__ import annotations

import logging
import threading
from typing import Final

from consumer.writeback.metrics import WritebackMetrics
from consumer.writeback.record_errors import record_errors
from consumer.writeback.sobject_collections import SObjectCollections
from consumer.writeback.sync_record import ERROR, LAST_ATTEMPT_AT, STATUS, SYNC_RECORD

log = logging.getLogger(__name__)

#: Most deletions in one pass (50 calls); the next pass goes on, so one pass never hogs the API.
MAX_DELETES_PER_PASS: Final = 10_000
_DELETABLE = f"{STATUS} != '{ERROR}'"


class Retention:
    """One retention pass at a time, safe to call from any thread."""

    def __init__(
        self, collections: SObjectCollections, limit: int, metrics: WritebackMetrics
    ) -> None:
        if limit < 1:
            raise ValueError(f"sync.record_retention must be >= 1, got {limit}")
        self.limit = limit
        self._collections = collections
        self._metrics = metrics
        self._lock = threading.Lock()

    def run_once(self) -> int:
        """Delete the oldest deletable records above the limit; return how many were deleted."""
        with self._lock:
            try:
                deleted = self._pass()
            except Exception:
                self._metrics.retention_runs.labels("failed").inc()
                raise
            self._metrics.retention_runs.labels("ok").inc()
            return deleted

    def _pass(self) -> int:
        # Only constants go into the SOQL: nothing here comes from a record or a user.
        kept = self._collections.count(
            f"SELECT COUNT() FROM {SYNC_RECORD} WHERE {_DELETABLE}"  # noqa: S608
        )
        excess = min(kept - self.limit, MAX_DELETES_PER_PASS)
        if excess <= 0:
            return 0
        rows = self._collections.query(
            f"SELECT Id FROM {SYNC_RECORD} WHERE {_DELETABLE} "  # noqa: S608
            f"ORDER BY {LAST_ATTEMPT_AT} ASC NULLS FIRST, CreatedDate ASC LIMIT {excess}"
        )
        ids = [str(row["Id"]) for row in rows]
        deleted = 0
        for record_id, answer in zip(ids, self._collections.delete(ids), strict=True):
            errors = record_errors(SYNC_RECORD, record_id, answer)
            if not errors or all(e.status_code == "ENTITY_IS_DELETED" for e in errors):
                deleted += 1
            else:
                log.warning(
                    "retention could not delete %s", "; ".join(e.describe() for e in errors)
                )
        self._metrics.retention_deleted.inc(deleted)
        log.info("retention deleted %d of %d Sync Records over the limit", deleted, excess)
        return deleted


class RetentionWorker:
    """Runs :class:`Retention` on a thread: every interval, and early when nudged."""

    def __init__(self, retention: Retention, interval_s: float, after_created: int) -> None:
        self._retention = retention
        self._interval_s = interval_s
        self._after_created = after_created
        self._created = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the retention worker is already started")
        self._thread = threading.Thread(target=self._loop, name="writeback-retention", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def records_created(self, count: int) -> None:
        """The handler created ``count`` Sync Records; past the threshold, run a pass now."""
        with self._lock:
            self._created += count
            due = self._created >= self._after_created
            if due:
                self._created = 0
        if due:
            self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._interval_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self._retention.run_once()
            except Exception as exc:  # noqa: BLE001 - the next pass tries again
                log.warning("retention pass failed (next one in %.0fs): %s", self._interval_s, exc)
