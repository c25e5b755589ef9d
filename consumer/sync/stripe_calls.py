"""Every Stripe call the sync makes goes through ``StripeCaller``: paced, 429-aware, classified.

``stripe.StripeClient`` retries network errors, 409s and 5xx itself (``max_network_retries``)
but never a 429, which is ours to handle: the caller waits for a token from the shared pacer
before each call, and on a 429 tells the pacer (which halves the rate and honours
``Retry-After``) and tries again with backoff a few times. Whatever still fails becomes
``StripeUnavailable`` (the engine retries the message later) or ``StripeRejected`` (a 4xx:
an Error result quoting Stripe's type, code, message and request id).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import stripe
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from consumer.engine import Pacer
from consumer.sync.failures import StripeRejected, StripeUnavailable
from cpqsync.settings import StripeSettings

T = TypeVar("T")
log = logging.getLogger(__name__)

RATE_LIMIT_ATTEMPTS = 6
# 429s within this many seconds of one another are one congestion event: the pacer halves its
# rate once for them, as TCP halves once per round trip, not once per lost packet.
CONGESTION_WINDOW_S = 1.0


def build_stripe_client(settings: StripeSettings) -> stripe.StripeClient:
    """The one way the sync builds its client: pinned version, bounded retries and timeout."""
    if settings.api_key is None:
        raise ValueError("stripe.api_key is not set (CPQSYNC_STRIPE__API_KEY)")
    return stripe.StripeClient(
        settings.api_key.get_secret_value(),
        stripe_version=settings.api_version,
        base_addresses={"api": settings.api_base} if settings.api_base else None,
        max_network_retries=settings.max_network_retries,
        http_client=stripe.RequestsClient(timeout=settings.timeout_s),
    )


class _RateLimited(Exception):
    def __init__(self, error: stripe.RateLimitError, retry_after: float | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


def retry_after_of(error: stripe.StripeError) -> float | None:
    headers = error.headers or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def describe(error: stripe.StripeError) -> str:
    """Stripe's own words: message, then type, code, parameter and request id."""
    details = error.error
    message = (details.message if details is not None else None) or error.user_message or ""
    parts = []
    if details is not None and details.type:
        parts.append(f"type {details.type}")
    if error.code:
        parts.append(f"code {error.code}")
    if details is not None and details.param:
        parts.append(f"param {details.param}")
    if error.request_id:
        parts.append(f"request {error.request_id}")
    if error.http_status:
        parts.append(f"HTTP {error.http_status}")
    text = message.strip() or type(error).__name__
    return f"{text} ({', '.join(parts)})" if parts else text


class StripeCaller:
    """Thread-safe: the client keeps one HTTP session per thread, the pacer is shared."""

    def __init__(
        self,
        client: stripe.StripeClient,
        pacer: Pacer,
        *,
        rate_limit_attempts: int = RATE_LIMIT_ATTEMPTS,
        backoff_s: float = 0.25,
        max_backoff_s: float = 8.0,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.client = client
        self._pacer = pacer
        self._attempts = rate_limit_attempts
        self._backoff = wait_random_exponential(multiplier=backoff_s, max=max_backoff_s)
        self._sleep = sleep
        self._clock = time.monotonic
        self._congestion_lock = threading.Lock()
        self._last_congestion = float("-inf")
        self.requests = 0

    def call(self, fn: Callable[[stripe.StripeClient], T]) -> T:
        """Run one request; raise ``StripeUnavailable`` / ``StripeRejected`` when it fails."""
        options: dict[str, Any] = {"sleep": self._sleep} if self._sleep is not None else {}
        retrying = Retrying(
            retry=retry_if_exception_type(_RateLimited),
            stop=stop_after_attempt(self._attempts),
            wait=self._wait,
            reraise=True,
            **options,
        )
        try:
            result: T = retrying(self._once, fn)
            return result
        except _RateLimited as limited:
            raise StripeUnavailable(
                f"Stripe Error: still rate limited after {self._attempts} attempts: "
                f"{describe(limited.error)}",
                retry_after=limited.retry_after,
                request_id=limited.error.request_id,
            ) from limited.error

    def _congested(self, retry_after: float | None) -> None:
        now = self._clock()
        with self._congestion_lock:
            if now - self._last_congestion < CONGESTION_WINDOW_S:
                return
            self._last_congestion = now
        self._pacer.on_rate_limited(retry_after)

    def _wait(self, state: RetryCallState) -> float:
        backoff = float(self._backoff(state))
        outcome = state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, _RateLimited) and error.retry_after is not None:
            return max(backoff, error.retry_after)
        return backoff

    def _once(self, fn: Callable[[stripe.StripeClient], T]) -> T:
        self._pacer.acquire()
        self.requests += 1
        try:
            return fn(self.client)
        except stripe.RateLimitError as error:
            retry_after = retry_after_of(error)
            self._congested(retry_after)
            raise _RateLimited(error, retry_after) from error
        except stripe.StripeError as error:
            raise classify(error) from error


def classify(error: stripe.StripeError) -> StripeUnavailable | StripeRejected:
    status = error.http_status
    text = f"Stripe Error: {describe(error)}"
    transient = (
        isinstance(error, stripe.APIConnectionError)
        or status is None
        or status >= 500
        or status == 409  # a concurrent request with the same idempotency key is still running
    )
    if transient:
        headers = error.headers or {}
        return StripeUnavailable(
            text,
            retry_after=retry_after_of(error),
            request_id=error.request_id,
            replayed=str(headers.get("Idempotent-Replayed", "")).lower() == "true",
        )
    return StripeRejected(text, request_id=error.request_id)


def is_missing(error: BaseException) -> bool:
    """A 404 ``resource_missing``: the object a lookup asked for does not exist."""
    cause = error.__cause__ if isinstance(error, StripeRejected) else error
    return isinstance(cause, stripe.InvalidRequestError) and (
        cause.code == "resource_missing" or cause.http_status == 404
    )


def to_plain(obj: Any) -> dict[str, Any]:
    """A Stripe object as plain dicts and lists (what plans and results hold)."""
    if isinstance(obj, stripe.StripeObject):
        return obj.to_dict()
    return dict(obj)
