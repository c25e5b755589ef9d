"""Reading billing state from Stripe for the billing writeback: current objects, never events.

A subscription comes with its latest invoice and its schedule expanded (one request); a
missing object (404: a deleted customer) reads as None, which is the record's fault and
writes nothing. Any other failure is the world's and the event is tried again, never
skipped: a 429 is retried with backoff (the pacer slows down), and the network, 401/403 or
5xx mean Stripe cannot serve us now (``DependencyDown``): the engine holds the events,
reports Stripe down and probes until it answers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import stripe

from consumer.engine import DependencyDown, Pacer, PermanentError, RetryableError


def _read(
    fetch: Callable[[], stripe.StripeObject], what: str, pacer: Pacer | None
) -> dict[str, Any] | None:
    if pacer is not None:
        pacer.acquire()
    try:
        found = fetch()
    except stripe.RateLimitError as exc:
        if pacer is not None:
            pacer.on_rate_limited()
        raise RetryableError(f"Stripe rate limit reading {what} (HTTP {exc.http_status})") from None
    except stripe.InvalidRequestError as exc:
        if exc.http_status == 404:
            return None
        raise PermanentError(f"Stripe refused to read {what}: {exc.user_message}") from None
    except stripe.StripeError as exc:
        # Only the class and status: a Stripe error's text can quote the request.
        text = f"Stripe unavailable reading {what}: {type(exc).__name__} (HTTP {exc.http_status})"
        status = exc.http_status
        if status in (401, 403):
            raise DependencyDown(text, dependency="stripe", setting="stripe.api_key") from None
        if isinstance(exc, stripe.APIConnectionError) or status is None or status >= 500:
            raise DependencyDown(text, dependency="stripe", setting="stripe.api_base") from None
        raise RetryableError(text) from None
    as_dict: dict[str, Any] = found.to_dict()
    return as_dict


class BillingReader:
    """Reads paced by ``pacer`` (the process's share of the account's request budget,
    ``stripe.requests_per_second``), which halves its rate on a 429 like the sync's."""

    def __init__(self, client: stripe.StripeClient, pacer: Pacer | None = None) -> None:
        self._client = client
        self._pacer = pacer

    def probe(self) -> None:
        """One cheap authenticated read: raises while Stripe cannot serve us."""
        _read(lambda: self._client.v1.customers.list({"limit": 1}), "customers", self._pacer)

    def subscription(self, subscription_id: str) -> dict[str, Any] | None:
        return _read(
            lambda: self._client.v1.subscriptions.retrieve(
                subscription_id, params={"expand": ["latest_invoice", "schedule"]}
            ),
            f"subscription {subscription_id}",
            self._pacer,
        )

    def invoice(self, invoice_id: str) -> dict[str, Any] | None:
        return _read(
            lambda: self._client.v1.invoices.retrieve(invoice_id),
            f"invoice {invoice_id}",
            self._pacer,
        )

    def customer(self, customer_id: str) -> dict[str, Any] | None:
        found = _read(
            lambda: self._client.v1.customers.retrieve(customer_id),
            f"customer {customer_id}",
            self._pacer,
        )
        return None if found is None or found.get("deleted") else found
