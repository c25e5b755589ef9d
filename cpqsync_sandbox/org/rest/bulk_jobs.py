"""Bulk API 2.0 query jobs: their life cycle, result sets and the faults tests can inject.

A job is created ``UploadComplete``; each read of its info moves it one step, to
``InProgress`` and then ``JobComplete`` (or ``Failed`` when a failure was injected), so a
client sees the states a real org reports while it polls. The query runs when the job is
created (the org validates the SOQL then, answering MALFORMED_QUERY or INVALID_FIELD as the
REST query resource does) and its rows are the job's result set. Results are served in sets
addressed by locators; as on a real org (API 49.0 and later) a locator is an opaque string,
here the base64 of the set's first row number, and the last set answers the string
``null``.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cpqsync_sandbox.org.errors import OrgError
from cpqsync_sandbox.org.ids import IdFactory
from cpqsync_sandbox.org.query_engine import Column
from cpqsync_sandbox.org.values import format_datetime

COLUMN_DELIMITERS = {
    "BACKQUOTE": "`",
    "CARET": "^",
    "COMMA": ",",
    "PIPE": "|",
    "SEMICOLON": ";",
    "TAB": "\t",
}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
OPERATIONS = ("query", "queryAll")
# A real org sizes a set by bytes; without maxRecords the simulator serves this many rows.
DEFAULT_SET_SIZE = 50_000

UPLOAD_COMPLETE = "UploadComplete"
IN_PROGRESS = "InProgress"
JOB_COMPLETE = "JobComplete"
FAILED = "Failed"
ABORTED = "Aborted"
TERMINAL = (JOB_COMPLETE, FAILED, ABORTED)


@dataclass
class QueryJob:
    id: str
    operation: str
    object: str
    created_by: str
    api_version: str
    column_delimiter: str
    line_ending: str
    columns: tuple[Column, ...]
    rows: list[dict[str, Any]]
    failure: str | None = None
    state: str = UPLOAD_COMPLETE
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    modified: datetime = field(default_factory=lambda: datetime.now(UTC))

    def info(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.object,
            "createdById": self.created_by,
            "createdDate": format_datetime(self.created),
            "systemModstamp": format_datetime(self.modified),
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.api_version),
            "jobType": "V2Query",
            "lineEnding": self.line_ending,
            "columnDelimiter": self.column_delimiter,
            "numberRecordsProcessed": len(self.rows) if self.state == JOB_COMPLETE else 0,
            "retries": 0,
            "totalProcessingTime": 0,
            "isPkChunkingSupported": True,
        }
        if self.state == FAILED:
            body["errorMessage"] = self.failure
        return body

    def created_info(self) -> dict[str, Any]:
        """What the create call answers: the job as submitted, before any processing."""
        keys = (
            "id",
            "operation",
            "object",
            "createdById",
            "createdDate",
            "systemModstamp",
            "state",
            "concurrencyMode",
            "contentType",
            "apiVersion",
            "lineEnding",
            "columnDelimiter",
        )
        info = self.info()
        return {key: info[key] for key in keys}


@dataclass(frozen=True)
class ResultSet:
    csv: str
    count: int
    next_locator: str  # "null" after the last set


class BulkQueryJobs:
    """Every query job of the org, with switches for what tests need to break."""

    def __init__(self) -> None:
        self._jobs: dict[str, QueryJob] = {}
        self._ids = IdFactory()
        self._lock = threading.Lock()
        self._failures: list[str] = []
        self.enabled = True
        self.default_set_size = DEFAULT_SET_SIZE

    def fail_next(self, message: str) -> None:
        """The next job created ends ``Failed`` with ``message`` as its ``errorMessage``."""
        with self._lock:
            self._failures.append(message)

    def check_enabled(self) -> None:
        if not self.enabled:
            raise OrgError(
                "API_DISABLED_FOR_ORG",
                "Bulk API 2.0 is not enabled for this organization.",
                status=403,
            )

    def add(self, **fields: Any) -> QueryJob:
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
            job = QueryJob(id=self._ids.new_id("750"), failure=failure, **fields)
            self._jobs[job.id] = job
            return job

    def get(self, job_id: str) -> QueryJob:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise OrgError("NOT_FOUND", "The requested resource does not exist", status=404)
        return job

    def all(self) -> list[QueryJob]:
        with self._lock:
            return list(self._jobs.values())

    def observe(self, job_id: str) -> QueryJob:
        """The job as a status read sees it; the read moves a running job one step on."""
        job = self.get(job_id)
        with self._lock:
            if job.state == UPLOAD_COMPLETE:
                self._move(job, IN_PROGRESS)
            elif job.state == IN_PROGRESS:
                self._move(job, FAILED if job.failure else JOB_COMPLETE)
        return job

    def abort(self, job_id: str) -> QueryJob:
        job = self.get(job_id)
        with self._lock:
            if job.state not in (UPLOAD_COMPLETE, IN_PROGRESS):
                raise OrgError(
                    "INVALIDJOBSTATE",
                    f"Aborting an already terminated job is not allowed: job state {job.state}",
                )
            self._move(job, ABORTED)
        return job

    def delete(self, job_id: str) -> None:
        job = self.get(job_id)
        with self._lock:
            if job.state not in TERMINAL:
                raise OrgError(
                    "API_ERROR",
                    "Error encountered when deleting the job because the job is not terminated",
                )
            del self._jobs[job_id]

    def results(self, job_id: str, locator: str | None, max_records: int | None) -> ResultSet:
        job = self.get(job_id)
        if job.state != JOB_COMPLETE:
            raise OrgError(
                "JOB_NOT_COMPLETE",
                "can only download query results of successfully completed bulk job with "
                f"status: JOB_COMPLETE. Current status: {_status_word(job.state)}",
                status=412,
            )
        start = _decode_locator(locator) if locator else 0
        if start > len(job.rows):
            raise _invalid_locator(locator or "")
        size = max_records or self.default_set_size
        end = start + size
        rows = job.rows[start:end]
        body = render_csv(job.columns, rows, job.column_delimiter, job.line_ending)
        next_locator = _encode_locator(end) if end < len(job.rows) else "null"
        return ResultSet(body, len(rows), next_locator)

    @staticmethod
    def _move(job: QueryJob, state: str) -> None:
        job.state = state
        job.modified = datetime.now(UTC)


def render_csv(
    columns: tuple[Column, ...], rows: list[dict[str, Any]], delimiter: str, line_ending: str
) -> str:
    """A header row of dotted field names, then every value quoted; null is an empty string."""
    out = io.StringIO()
    writer = csv.writer(
        out,
        delimiter=COLUMN_DELIMITERS[delimiter],
        lineterminator=LINE_ENDINGS[line_ending],
        quoting=csv.QUOTE_ALL,
    )
    writer.writerow([c.name for c in columns])
    for row in rows:
        writer.writerow([_csv_value(c, row) for c in columns])
    return out.getvalue()


def _csv_value(column: Column, row: dict[str, Any]) -> str:
    node: Any = row
    for part in column.parts:
        if not isinstance(node, dict):
            return ""
        node = node.get(part)
    if node is None:
        return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    if column.type == "datetime" and isinstance(node, str) and node.endswith("+0000"):
        return node[: -len("+0000")] + "Z"  # Bulk CSV writes UTC with a Z, REST with +0000
    return str(node)


def _status_word(state: str) -> str:
    return {UPLOAD_COMPLETE: "UPLOAD_COMPLETE", IN_PROGRESS: "IN_PROGRESS"}.get(
        state, state.upper()
    )


def _encode_locator(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode().rstrip("=")


def _decode_locator(locator: str) -> int:
    try:
        raw = base64.b64decode(locator + "=" * (-len(locator) % 4), validate=True)
        return int(raw.decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _invalid_locator(locator) from None


def _invalid_locator(locator: str) -> OrgError:
    return OrgError("INVALID_QUERY_LOCATOR", f"invalid locator: {locator}")
