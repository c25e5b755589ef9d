"""Why a sync attempt failed, split the ways that matter: by origin and by whose fault it is.

The origin decides the prefix of the Sync Record message (rule R2: ``Salesforce Error:``,
``Stripe Error:``, ``Connector Error:``; ``Data Error:`` comes from the planner).

Whose fault: a *data* failure is the record's (Stripe refused our parameters, a Salesforce
validation error) and becomes an Error result at once (``*Rejected``, permanent). A *systemic*
failure is the world's (network, DNS, TLS, timeouts, a wrong or rolled key, 5xx, limits) and
never becomes a result: ``StripeDown`` and ``SalesforceDown`` are the engine's
``DependencyDown``, so it holds the message, pauses and probes until the service is back.
What is left (``*Unavailable``: a concurrent request with the same key, a locked row, a stale
plan) is a transient of one record: retried with backoff, then dead-lettered.
Every message passes through the log redaction, so a secret that a remote error echoed never
reaches a result.
"""

from __future__ import annotations

from consumer.engine import DependencyDown, PermanentError, RetryableError
from cpqsync.observability.logging import redact

SALESFORCE = "Salesforce Error"
STRIPE = "Stripe Error"
CONNECTOR = "Connector Error"


def with_origin(origin: str, detail: str) -> str:
    return f"{origin}: {redact(detail)}"


class SalesforceUnavailable(RetryableError):
    """Salesforce refused for now (REQUEST_LIMIT_EXCEEDED, 5xx, network): try again later."""

    origin = SALESFORCE


class SalesforceDown(SalesforceUnavailable, DependencyDown):
    """Salesforce cannot serve the connector now: 5xx, network, REQUEST_LIMIT_EXCEEDED, or a
    login (or INVALID_SESSION) that logging in again does not fix."""

    dependency = "salesforce"
    setting = "salesforce.login_url and the org's status"


class SalesforceRejected(PermanentError):
    """Salesforce answered with an error that repeating the call cannot fix."""

    origin = SALESFORCE


class StripeUnavailable(RetryableError):
    """Stripe kept answering 429/5xx or timing out after the client's own retries."""

    origin = STRIPE

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        request_id: str | None = None,
        replayed: bool = False,
    ) -> None:
        super().__init__(message, retry_after=retry_after)
        self.request_id = request_id
        # Stripe answered with the error it stored for this idempotency key: the same key
        # will only ever get that answer again.
        self.replayed = replayed


class StripeDown(StripeUnavailable, DependencyDown):
    """Stripe cannot serve the connector now: network, DNS, TLS, timeouts, 5xx, 429 beyond the
    pacer, or a key it refuses (401/403: wrong, rolled, or missing a permission)."""

    dependency = "stripe"
    setting = "stripe.api_base"

    def __init__(
        self,
        message: str,
        *,
        setting: str | None = None,
        retry_after: float | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, retry_after=retry_after, request_id=request_id)
        if setting is not None:
            self.setting = setting


class StaleView(StripeUnavailable):
    """Stripe refused a plan built partly from remembered lookups: re-plan from fresh ones."""


class IdempotencyConflict(StaleView):
    """Stripe refused a create: the same key was used with other parameters.

    A customer is created under a key naming only its account (one customer per account,
    ever), so two members syncing an account's first orders at once, from hydrations either
    side of an amendment, cannot both create one. The loser gets this; re-planning from a
    fresh lookup finds the winner's customer and updates it instead.
    """


class StripeRejected(PermanentError):
    """Stripe refused a request (4xx): the message quotes its type, code, text and request id."""

    origin = STRIPE

    def __init__(self, message: str, *, request_id: str | None = None) -> None:
        super().__init__(message)
        self.request_id = request_id


def origin_message(error: BaseException) -> str:
    """The Sync Record message for any failure: its origin, else ``Connector Error``."""
    origin = getattr(error, "origin", CONNECTOR)
    text = str(error) or type(error).__name__
    if text.startswith(f"{origin}:"):
        return redact(text)
    return with_origin(str(origin), text)
