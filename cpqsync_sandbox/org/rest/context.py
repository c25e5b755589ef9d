"""State the REST handlers share: the store, identity, API usage, request log, query cursors."""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from cpqsync_sandbox.org.errors import OrgError
from cpqsync_sandbox.org.oauth import TokenIssuer
from cpqsync_sandbox.org.rest.bulk_jobs import BulkQueryJobs
from cpqsync_sandbox.org.store import OrgStore

QUERY_BATCH_SIZE = 2000
_MAX_OPEN_CURSORS = 200


@dataclass(frozen=True)
class RequestLogEntry:
    """One HTTP request as the org saw it; tests count API calls with these."""

    method: str
    path: str
    query: str
    status: int


class RequestLog:
    def __init__(self) -> None:
        self._entries: list[RequestLogEntry] = []
        self._lock = threading.Lock()

    def append(self, entry: RequestLogEntry) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[RequestLogEntry]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class ApiUsage:
    """The org's daily API request allocation, reported in ``Sforce-Limit-Info``.

    ``fail_next(n)`` makes the next ``n`` API calls fail with REQUEST_LIMIT_EXCEEDED, so tests
    can exercise back-off without spending a whole allocation.
    """

    def __init__(self, daily_limit: int = 100_000) -> None:
        self.daily_limit = daily_limit
        self.used = 0
        self._forced_failures = 0
        self._lock = threading.Lock()

    def fail_next(self, count: int) -> None:
        with self._lock:
            self._forced_failures = count

    def consume(self) -> None:
        """Count one API call, or raise REQUEST_LIMIT_EXCEEDED (403) as a real org does."""
        with self._lock:
            if self._forced_failures > 0:
                self._forced_failures -= 1
                raise _limit_exceeded()
            if self.used >= self.daily_limit:
                raise _limit_exceeded()
            self.used += 1

    def header(self) -> str:
        with self._lock:
            return f"api-usage={self.used}/{self.daily_limit}"


def _limit_exceeded() -> OrgError:
    return OrgError("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", status=403)


class QueryCursors:
    """Remaining pages of large query results, addressed by ``nextRecordsUrl`` locators."""

    def __init__(self, key_prefix: str = "01g") -> None:
        self._cursors: OrderedDict[str, tuple[list[dict[str, Any]], int]] = OrderedDict()
        self._counter = itertools.count(1)
        self._prefix = key_prefix
        self._lock = threading.Lock()

    def open(self, records: list[dict[str, Any]], total: int) -> str:
        with self._lock:
            locator = f"{self._prefix}Dp{next(self._counter):010d}AAA"
            self._cursors[locator] = (records, total)
            while len(self._cursors) > _MAX_OPEN_CURSORS:
                self._cursors.popitem(last=False)
            return locator

    def get(self, locator: str) -> tuple[list[dict[str, Any]], int]:
        with self._lock:
            found = self._cursors.get(locator)
        if found is None:
            raise OrgError("INVALID_QUERY_LOCATOR", "invalid query locator", status=400)
        return found


@dataclass
class RestContext:
    store: OrgStore
    issuer: TokenIssuer
    host: str
    port: int = 0
    usage: ApiUsage = field(default_factory=ApiUsage)
    request_log: RequestLog = field(default_factory=RequestLog)
    cursors: QueryCursors = field(default_factory=QueryCursors)
    batch_size: int = QUERY_BATCH_SIZE
    bulk: BulkQueryJobs = field(default_factory=BulkQueryJobs)
    # An outage: every REST call, logins included, answers 503 SERVER_UNAVAILABLE.
    unavailable: bool = False

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"
