"""REST access through simple-salesforce, with re-login and retry classification.

simple-salesforce does the HTTP; this module only decides two things it cannot:
an ``INVALID_SESSION_ID`` means "log in again and repeat the call once", and
``REQUEST_LIMIT_EXCEEDED`` or a network failure is *retryable* (the caller
backs off), while every other Salesforce error is permanent for that call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceRefusedRequest,
)

from cpqsync.salesforce.auth import (
    SalesforceAuth,
    SalesforceAuthError,
    SalesforceLoginUnreachable,
    SalesforceSession,
)
from cpqsync.settings import SalesforceSettings

T = TypeVar("T")

_RETRYABLE_CODES = frozenset({"REQUEST_LIMIT_EXCEEDED", "SERVER_UNAVAILABLE", "UNABLE_TO_LOCK_ROW"})
# Retryable codes that are one record's passing trouble rather than the org's state.
_RECORD_TRANSIENT_CODES = frozenset({"UNABLE_TO_LOCK_ROW"})


class RetryableSalesforceError(RuntimeError):
    """A call failed for a reason that passes: back off and try again."""

    def __init__(self, message: str, error_code: str | None = None) -> None:
        super().__init__(message)
        self.error_code = error_code

    @property
    def systemic(self) -> bool:
        """Whether the org cannot serve any call now (an API limit, 5xx, the network, a session
        a fresh login does not fix), rather than one record being briefly locked."""
        return self.error_code not in _RECORD_TRANSIENT_CODES


def what_to_check(exc: BaseException) -> str:
    """What an operator should look at when Salesforce cannot serve the connector."""
    code = getattr(exc, "error_code", None)
    if code == "REQUEST_LIMIT_EXCEEDED":
        return "the org's API request allocation (used up; it frees up over 24 hours)"
    if isinstance(exc, SalesforceLoginUnreachable):
        return "salesforce.login_url and the org's status"
    if code == "INVALID_SESSION_ID" or isinstance(exc, SalesforceAuthError):
        return (
            "salesforce.login_url, salesforce.client_id, salesforce.username and "
            "salesforce.private_key_file or salesforce.client_secret"
        )
    return "salesforce.login_url and the org's status"


def build_client(
    session: SalesforceSession,
    settings: SalesforceSettings,
    http: requests.Session,
) -> Salesforce:
    """A simple-salesforce client for ``session`` sharing the TLS-configured ``http``."""
    return Salesforce(
        instance_url=session.instance_url,
        session_id=session.access_token.get_secret_value(),
        version=settings.api_version,
        session=http,
    )


def error_codes(exc: SalesforceError) -> list[str]:
    """The ``errorCode`` values of a Salesforce error body (``[{message, errorCode}]``)."""
    content: Any = exc.content
    items: list[Any] = content if isinstance(content, list) else [content]
    return [
        str(item["errorCode"]) for item in items if isinstance(item, dict) and "errorCode" in item
    ]


def is_retryable(exc: BaseException) -> bool:
    """Whether a failed call may succeed later without anyone changing anything."""
    if isinstance(exc, RetryableSalesforceError):
        return True
    if isinstance(exc, requests.ConnectionError | requests.Timeout):
        return True
    if isinstance(exc, SalesforceError):
        if exc.status >= 500:
            return True
        return any(code in _RETRYABLE_CODES for code in error_codes(exc))
    return False


class SalesforceRest:
    """A thread-safe holder of the current REST client.

    ``call(lambda sf: sf.query(soql))`` runs an operation with a fresh login on
    an expired session and turns retryable failures into
    :class:`RetryableSalesforceError`, so callers only write their backoff once.
    """

    def __init__(self, auth: SalesforceAuth) -> None:
        self._auth = auth
        self._lock = threading.Lock()
        self._client: Salesforce | None = None
        self._client_session: SalesforceSession | None = None

    @property
    def auth(self) -> SalesforceAuth:
        return self._auth

    def client(self) -> Salesforce:
        """The client for the current session, rebuilt when the session changed."""
        session = self._auth.session()
        with self._lock:
            if self._client is None or self._client_session is not session:
                self._client = build_client(session, self._auth.settings, self._auth.http)
                self._client_session = session
            return self._client

    def call(self, operation: Callable[[Salesforce], T]) -> T:
        session = self._auth.session()
        try:
            return self._classified(operation)
        except SalesforceExpiredSession:
            self._auth.refresh(stale=session)
        try:
            return self._classified(operation)
        except SalesforceExpiredSession as exc:
            raise RetryableSalesforceError(
                "Salesforce rejected a freshly issued session (INVALID_SESSION_ID)",
                "INVALID_SESSION_ID",
            ) from exc

    def _classified(self, operation: Callable[[Salesforce], T]) -> T:
        try:
            return operation(self.client())
        except SalesforceExpiredSession:
            raise
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise RetryableSalesforceError(
                f"network error talking to Salesforce: {type(exc).__name__}"
            ) from exc
        except SalesforceRefusedRequest as exc:
            codes = error_codes(exc)
            if "REQUEST_LIMIT_EXCEEDED" in codes:
                raise RetryableSalesforceError(
                    "Salesforce API request limit exceeded (REQUEST_LIMIT_EXCEEDED)",
                    "REQUEST_LIMIT_EXCEEDED",
                ) from exc
            raise
        except SalesforceError as exc:
            if is_retryable(exc):
                codes = error_codes(exc)
                raise RetryableSalesforceError(
                    f"Salesforce answered HTTP {exc.status} {', '.join(codes)}".rstrip(),
                    codes[0] if codes else None,
                ) from exc
            raise

    def query_pages(self, soql: str) -> Iterator[list[dict[str, Any]]]:
        """Every page of a SOQL query, following ``nextRecordsUrl``, each page one call."""
        page: dict[str, Any] = self.call(lambda sf: sf.query(soql))
        while True:
            yield list(page.get("records", []))
            if page.get("done", True) or not page.get("nextRecordsUrl"):
                return
            page = self.call(_query_more(str(page["nextRecordsUrl"])))


def _query_more(next_url: str) -> Callable[[Salesforce], Any]:
    def operation(sf: Salesforce) -> Any:
        return sf.query_more(next_url, identifier_is_url=True)

    return operation
