"""The Stripe client every role builds (sync, writeback, the Stripe event source, start-up checks).

Pinned API version and timeout, no retries of its own: the sync's ``StripeCaller``
(``consumer/sync/stripe_calls.py``) retries through the account's pacer instead, and a client
retrying behind the pacer's back would bunch requests into 429s. Every request is counted per
endpoint and outcome (``cpqsync.observability.http_requests``).
"""

from __future__ import annotations

import requests
import stripe

from cpqsync.observability.http_requests import DEFAULT_POOL_SIZE, count_requests
from cpqsync.settings import StripeSettings


def build_stripe_client(
    settings: StripeSettings,
    *,
    http_client: stripe.HTTPClient | None = None,
    pool_size: int = DEFAULT_POOL_SIZE,
) -> stripe.StripeClient:
    """The one way cpqsync builds its Stripe client: pinned version and timeout, no retries of its
    own (``StripeCaller`` retries through the pacer, ``stripe.max_network_retries`` times).
    ``http_client`` (built with ``stripe.timeout_s``) lets a benchmark time the responses.
    Requests are counted per endpoint and outcome; ``pool_size`` is how many workers share
    the connection pool."""
    if settings.api_key is None:
        raise ValueError("stripe.api_key is not set (CPQSYNC_STRIPE__API_KEY)")
    return stripe.StripeClient(
        settings.api_key.get_secret_value(),
        stripe_version=settings.api_version,
        base_addresses={"api": settings.api_base} if settings.api_base else None,
        max_network_retries=0,
        http_client=http_client or _counted_client(settings, pool_size),
    )


def _counted_client(settings: StripeSettings, pool_size: int) -> stripe.RequestsClient:
    session = requests.Session()
    count_requests(session, "stripe", pool_size)
    return stripe.RequestsClient(timeout=settings.timeout_s, session=session)
