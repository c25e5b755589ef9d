"""Why a sync attempt failed, split the two ways that matter: by origin and by whether to retry.

The origin decides the prefix of the Sync Record message (rule R2: ``Salesforce Error:``,
``Stripe Error:``, ``Connector Error:``; ``Data Error:`` comes from the planner). Retryable
failures subclass the engine's ``RetryableError`` so the engine backs off and tries the message
again; permanent ones become an Error result at once. Every message passes through the log
redaction, so a secret that a remote error echoed never reaches a result.
"""

from __future__ import annotations

from consumer.engine import PermanentError, RetryableError
from cpqsync.observability.logging import redact

SALESFORCE = "Salesforce Error"
STRIPE = "Stripe Error"
CONNECTOR = "Connector Error"


def with_origin(origin: str, detail: str) -> str:
    return f"{origin}: {redact(detail)}"


class SalesforceUnavailable(RetryableError):
    """Salesforce refused for now (REQUEST_LIMIT_EXCEEDED, 5xx, network): try again later."""

    origin = SALESFORCE


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
