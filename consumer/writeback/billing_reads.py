"""Reading billing state from Stripe for the billing writeback: current objects, never events.

A subscription comes with its latest invoice and its schedule expanded (one request); a
missing object (404: a deleted customer) reads as None, which is the record's fault and
writes nothing. Any other failure is the world's — network, 401/403, 429, 5xx — and is
raised as retryable so the event is tried again, never skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import stripe

from consumer.engine import PermanentError, RetryableError


def _read(fetch: Callable[[], stripe.StripeObject], what: str) -> dict[str, Any] | None:
    try:
        found = fetch()
    except stripe.InvalidRequestError as exc:
        if exc.http_status == 404:
            return None
        raise PermanentError(f"Stripe refused to read {what}: {exc.user_message}") from None
    except stripe.StripeError as exc:
        # Only the class and status: a Stripe error's text can quote the request.
        raise RetryableError(
            f"Stripe unavailable reading {what}: {type(exc).__name__} (HTTP {exc.http_status})"
        ) from None
    as_dict: dict[str, Any] = found.to_dict()
    return as_dict


class BillingReader:
    def __init__(self, client: stripe.StripeClient) -> None:
        self._client = client

    def subscription(self, subscription_id: str) -> dict[str, Any] | None:
        return _read(
            lambda: self._client.v1.subscriptions.retrieve(
                subscription_id, params={"expand": ["latest_invoice", "schedule"]}
            ),
            f"subscription {subscription_id}",
        )

    def invoice(self, invoice_id: str) -> dict[str, Any] | None:
        return _read(lambda: self._client.v1.invoices.retrieve(invoice_id), f"invoice {invoice_id}")

    def customer(self, customer_id: str) -> dict[str, Any] | None:
        found = _read(
            lambda: self._client.v1.customers.retrieve(customer_id), f"customer {customer_id}"
        )
        return None if found is None or found.get("deleted") else found
