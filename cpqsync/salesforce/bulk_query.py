"""Bulk API 2.0 query jobs: create, wait for ``JobComplete``, read CSV result sets by locator.

Every call goes through :class:`SalesforceRest`, so a Bulk call re-logs in on an expired
session and classifies failures exactly as the REST calls do, over the same TLS-configured
``requests`` session (``salesforce.ca_bundle``, ``salesforce.request_timeout_s``).

simple-salesforce ships a Bulk API 2.0 client (``sf.bulk2``) and it was checked first. Its
public ``query()`` generator hides the job id and the locators, so a backfill interrupted in
the middle of a large job could not continue from its last stored result set, and its
polling loop sleeps for up to 24 hours with no way to stop it; what would fit is its private
``_Bulk2Client``. This module therefore speaks the few documented resources itself, reusing
simple-salesforce's ``call_salesforce`` so errors arrive as the same exception types.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simple_salesforce.api import Salesforce
from simple_salesforce.util import call_salesforce

from cpqsync.salesforce.rest import SalesforceRest

COMPLETE = "JobComplete"
FAILED_STATES = ("Failed", "Aborted")
# A real org finishes a job in seconds to minutes: poll soon, then back off to this.
_FIRST_POLL_S = 0.25
_MAX_POLL_S = 10.0


class BulkJobFailed(RuntimeError):
    """A query job ended ``Failed`` or ``Aborted``; the message carries Salesforce's reason."""

    def __init__(self, job_id: str, state: str, reason: str) -> None:
        super().__init__(f"Bulk API 2.0 query job {job_id} ended {state}: {reason}")
        self.job_id = job_id
        self.state = state


@dataclass(frozen=True)
class ResultSet:
    """One set of a job's results; ``next_locator`` is None after the last set."""

    rows: list[dict[str, str | None]]
    next_locator: str | None


class BulkQueryClient:
    def __init__(
        self,
        rest: SalesforceRest,
        first_poll_s: float = _FIRST_POLL_S,
        max_poll_s: float = _MAX_POLL_S,
        sleep: Callable[[float], Any] = time.sleep,
    ) -> None:
        self._rest = rest
        self._first_poll_s = first_poll_s
        self._max_poll_s = max_poll_s
        self._sleep = sleep

    def create(self, soql: str, operation: str = "query") -> str:
        """Submit ``soql`` as a query job; the job id."""
        body = {"operation": operation, "query": soql, "contentType": "CSV"}
        info = self._json("POST", "", json=body)
        return str(info["id"])

    def info(self, job_id: str) -> dict[str, Any]:
        return self._json("GET", job_id)

    def wait(self, job_id: str) -> dict[str, Any]:
        """Poll until the job completes; :class:`BulkJobFailed` if it fails or is aborted."""
        delay = self._first_poll_s
        while True:
            info = self.info(job_id)
            state = str(info.get("state"))
            if state == COMPLETE:
                return info
            if state in FAILED_STATES:
                reason = info.get("errorMessage") or "no errorMessage given"
                raise BulkJobFailed(job_id, state, str(reason))
            self._sleep(delay)
            delay = min(delay * 2, self._max_poll_s)

    def results(self, job_id: str, locator: str | None, max_records: int) -> ResultSet:
        """One result set: rows keyed by the CSV header (``Account.Name``); "" reads as None."""
        params: dict[str, str | int] = {"maxRecords": max_records}
        if locator:
            params["locator"] = locator

        def operation(sf: Salesforce) -> tuple[str, str]:
            response = call_salesforce(
                f"{sf.bulk2_url}query/{job_id}/results",
                "GET",
                sf.session,
                {**sf.headers, "Accept": "text/csv"},
                params=params,
            )
            return response.content.decode("utf-8"), response.headers.get("Sforce-Locator", "")

        text, next_locator = self._rest.call(operation)
        rows = [
            {name: (value if value != "" else None) for name, value in row.items()}
            for row in csv.DictReader(io.StringIO(text))
        ]
        done = next_locator in ("", "null")
        return ResultSet(rows, None if done else next_locator)

    def abort(self, job_id: str) -> dict[str, Any]:
        return self._json("PATCH", job_id, json={"state": "Aborted"})

    def delete(self, job_id: str) -> None:
        def operation(sf: Salesforce) -> None:
            call_salesforce(f"{sf.bulk2_url}query/{job_id}", "DELETE", sf.session, dict(sf.headers))

        self._rest.call(operation)

    def _json(self, method: str, job_id: str, json: Any = None) -> dict[str, Any]:
        def operation(sf: Salesforce) -> dict[str, Any]:
            url = f"{sf.bulk2_url}query" + (f"/{job_id}" if job_id else "")
            response = call_salesforce(url, method, sf.session, dict(sf.headers), json=json)
            body: dict[str, Any] = response.json()
            return body

        return self._rest.call(operation)
