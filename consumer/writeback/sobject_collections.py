"""The sObject Collections calls the writeback makes, through simple-salesforce.

Every call goes through :class:`SalesforceRest`, which logs in again on
``INVALID_SESSION_ID`` and turns ``REQUEST_LIMIT_EXCEEDED`` and network errors
into ``RetryableSalesforceError``; such a call is sent again after a short
backoff (updates by id, upserts by external id and deletes are idempotent), and
only a persisting failure reaches the engine's slower, bounded retries. Calls
use ``allOrNone=false``: the records Salesforce accepts are committed even when
others in the call are rejected, and the per-record answers (same order as the
request) say which ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final, TypeVar

from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceError
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from consumer.writeback.api_usage import api_usage_of
from consumer.writeback.metrics import WritebackMetrics
from cpqsync.salesforce.rest import RetryableSalesforceError, SalesforceRest, error_codes

T = TypeVar("T")

#: Salesforce's limit on records per collection call.
MAX_RECORDS: Final = 200


def chunks(items: Sequence[T], size: int = MAX_RECORDS) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _restful(path: str, method: str, **kwargs: Any) -> Callable[[Salesforce], Any]:
    def call(sf: Salesforce) -> Any:
        return sf.restful(path, method=method, **kwargs)

    return call


def _query_more(next_url: str) -> Callable[[Salesforce], Any]:
    def call(sf: Salesforce) -> Any:
        return sf.query_more(next_url, identifier_is_url=True)

    return call


class SObjectCollections:
    """Update, upsert and delete up to 200 records a call; query and count with SOQL."""

    def __init__(
        self,
        rest: SalesforceRest,
        metrics: WritebackMetrics,
        *,
        call_attempts: int = 3,
        backoff_s: float = 0.2,
        max_backoff_s: float = 2.0,
    ) -> None:
        if call_attempts < 1:
            raise ValueError(f"call_attempts must be >= 1, got {call_attempts}")
        self._rest = rest
        self._metrics = metrics
        self._attempts = call_attempts
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s

    def update(self, records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Update records by ``Id``; records of several object types may share a call."""
        answers: list[dict[str, Any]] = []
        for chunk in chunks(records):
            body = {"allOrNone": False, "records": list(chunk)}
            request = _restful("composite/sobjects", "PATCH", json=body)
            answers += self._collection_call("update", len(chunk), request)
        return answers

    def upsert(
        self, sobject: str, external_field: str, records: Sequence[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Insert or update records of one object type matched on ``external_field``."""
        answers: list[dict[str, Any]] = []
        path = f"composite/sobjects/{sobject}/{external_field}"
        for chunk in chunks(records):
            body = {"allOrNone": False, "records": list(chunk)}
            answers += self._collection_call(
                "upsert", len(chunk), _restful(path, "PATCH", json=body)
            )
        return answers

    def delete(self, record_ids: Sequence[str]) -> list[dict[str, Any]]:
        answers: list[dict[str, Any]] = []
        for chunk in chunks(record_ids):
            params = {"ids": ",".join(chunk), "allOrNone": "false"}
            request = _restful("composite/sobjects", "DELETE", params=params)
            answers += self._collection_call("delete", len(chunk), request)
        return answers

    def query(self, soql: str) -> list[dict[str, Any]]:
        """Every record the query matches, one API call per page."""
        page: dict[str, Any] = self._send("query", lambda sf: sf.query(soql))
        records: list[dict[str, Any]] = list(page.get("records", []))
        while not page.get("done", True) and page.get("nextRecordsUrl"):
            page = self._send("query", _query_more(str(page["nextRecordsUrl"])))
            records += page.get("records", [])
        return records

    def count(self, soql: str) -> int:
        """``totalSize`` of a ``SELECT COUNT() …`` query."""
        answer: dict[str, Any] = self._send("query", lambda sf: sf.query(soql))
        return int(answer["totalSize"])

    # -- internals -----------------------------------------------------------------------

    def _collection_call(
        self, operation: str, size: int, request: Callable[[Salesforce], Any]
    ) -> list[dict[str, Any]]:
        self._metrics.call_records.labels(operation).observe(size)
        answer = self._send(operation, request)
        if not isinstance(answer, list) or len(answer) != size:
            got = len(answer) if isinstance(answer, list) else type(answer).__name__
            raise RetryableSalesforceError(
                f"Salesforce answered a {size}-record {operation} call with {got} results"
            )
        return [item if isinstance(item, dict) else {} for item in answer]

    def _send(self, operation: str, request: Callable[[Salesforce], Any]) -> Any:
        """One logical call, sent again on a retryable failure with jittered backoff."""
        retrying = Retrying(
            retry=retry_if_exception_type(RetryableSalesforceError),
            wait=wait_random_exponential(multiplier=self._backoff_s, max=self._max_backoff_s),
            stop=stop_after_attempt(self._attempts),
            reraise=True,
        )
        for attempt in retrying:
            with attempt, self._observing(operation):
                self._metrics.api_calls.labels(operation).inc()
                return self._rest.call(request)
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    @contextmanager
    def _observing(self, operation: str) -> Iterator[None]:
        """Count whole-call failures by error code, and note the org's API usage after."""
        try:
            yield
        except RetryableSalesforceError as exc:
            self._metrics.api_errors.labels(operation, exc.error_code or "NETWORK").inc()
            raise
        except SalesforceError as exc:
            codes = error_codes(exc)
            self._metrics.api_errors.labels(operation, codes[0] if codes else str(exc.status)).inc()
            raise
        usage = api_usage_of(self._rest.client())
        if usage is not None:
            self._metrics.api_usage_used.set(usage.used)
            self._metrics.api_usage_limit.set(usage.limit)
