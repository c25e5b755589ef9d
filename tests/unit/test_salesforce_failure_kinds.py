"""Which Salesforce failures are the org's state (an outage: hold and probe) and which are one
record's passing trouble (retry, then dead-letter), and what each tells the operator to check."""

from __future__ import annotations

import pytest

from cpqsync.salesforce.auth import SalesforceAuthError, SalesforceLoginUnreachable
from cpqsync.salesforce.rest import RetryableSalesforceError, what_to_check


@pytest.mark.parametrize(
    ("code", "systemic"),
    [
        ("REQUEST_LIMIT_EXCEEDED", True),
        ("SERVER_UNAVAILABLE", True),
        ("INVALID_SESSION_ID", True),  # a freshly issued session refused: logging in again failed
        (None, True),  # the network
        ("UNABLE_TO_LOCK_ROW", False),  # one record locked by another writer for a moment
    ],
)
def test_systemic_or_one_records_trouble(code: str | None, systemic: bool) -> None:
    assert RetryableSalesforceError("failed", code).systemic is systemic


def test_each_cause_names_what_to_check() -> None:
    limit = RetryableSalesforceError("limit", "REQUEST_LIMIT_EXCEEDED")
    assert "API request allocation" in what_to_check(limit)
    session = RetryableSalesforceError("refused", "INVALID_SESSION_ID")
    refused = SalesforceAuthError("invalid_grant")
    for error in (session, refused):
        assert "salesforce.client_id" in what_to_check(error)
    unreachable = SalesforceLoginUnreachable("HTTP 503")
    assert what_to_check(unreachable) == "salesforce.login_url and the org's status"
    assert what_to_check(RetryableSalesforceError("HTTP 503")) == (
        "salesforce.login_url and the org's status"
    )
