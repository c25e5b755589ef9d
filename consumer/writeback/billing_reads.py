"""Reading billing state from Stripe for the billing writeback: current objects, never events.

A subscription comes with its latest invoice and its schedule expanded (one request); a
missing object (404: a deleted customer) reads as None, which is the record's fault and
writes nothing. The world's failures (network, 401/403, 429, 5xx) are ``StripeReadsDown``, a
``DependencyDown``: the engine holds the event and probes Stripe, and never gives up on it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import stripe

from consumer.engine import Pacer, PermanentError
from consumer.engine.outcomes import DependencyDown

_API_BASE = "stripe.api_base"


class StripeReadsDown(DependencyDown):
    """Stripe cannot serve the billing writeback's reads (network, 401/403, 429, 5xx): the
    world's fault, so the engine holds the events and probes instead of giving up on them."""

    dependency = "stripe"


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
        raise StripeReadsDown(
            f"Stripe rate limit reading {what} (HTTP {exc.http_status})",
            setting="stripe.requests_per_second",
        ) from None
    except stripe.InvalidRequestError as exc:
        if exc.http_status == 404:
            return None
        if exc.http_status is None or exc.http_status >= 500:
            raise StripeReadsDown(f"Stripe failed reading {what}", setting=_API_BASE) from None
        raise PermanentError(f"Stripe refused to read {what}: {exc.user_message}") from None
    except (stripe.AuthenticationError, stripe.PermissionError) as exc:
        raise StripeReadsDown(
            f"Stripe refused the key reading {what} (HTTP {exc.http_status})",
            setting="stripe.api_key",
        ) from None
    except stripe.StripeError as exc:
        # Only the class and status: a Stripe error's text can quote the request.
        raise StripeReadsDown(
            f"Stripe unavailable reading {what}: {type(exc).__name__} (HTTP {exc.http_status})",
            setting=_API_BASE,
        ) from None
    as_dict: dict[str, Any] = found.to_dict()
    return as_dict


class BillingReader:
    """Reads paced by ``pacer`` (the process's share of the account's request budget,
    ``stripe.requests_per_second``), which halves its rate on a 429 like the sync's."""

    def __init__(self, client: stripe.StripeClient, pacer: Pacer | None = None) -> None:
        self._client = client
        self._pacer = pacer

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

    def probe(self) -> None:
        """One cheap read; raises ``StripeReadsDown`` while Stripe cannot serve us."""
        _read(lambda: self._client.v1.customers.list(params={"limit": 1}), "customers", None)

    def customer(self, customer_id: str) -> dict[str, Any] | None:
        found = _read(
            lambda: self._client.v1.customers.retrieve(customer_id),
            f"customer {customer_id}",
            self._pacer,
        )
        return None if found is None or found.get("deleted") else found
