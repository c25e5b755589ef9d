"""Every Stripe call the sync makes goes through ``StripeCaller``: paced, retried, classified.

Every attempt, first or retry, takes a token from the process's shared pacer first, so the
configured rate bounds what actually reaches Stripe. That is why the client's own retries are
off (``cpqsync.stripe_client`` sets ``max_network_retries=0``): they would resend 409s and 5xx
behind the pacer's back, bunching requests into 429s. The caller retries instead, the way the
client would (connection errors and timeouts, 409, 5xx, ``Stripe-Should-Retry``; at most
``stripe.max_network_retries`` times, same idempotency key), except that a 5xx Stripe *replayed*
for a key is not resent: it would only be replayed again. A 429 tells the pacer (which halves
the rate and honours ``Retry-After``) and is tried again with backoff a few times. Whatever
still fails is classified (``classify``): ``StripeDown`` when Stripe cannot serve us at all
(network, 5xx, 429s beyond the pacer, a key it refuses: the engine holds the work until Stripe
is back), ``StripeUnavailable`` for a transient of one request (retried, then dead-lettered),
or ``StripeRejected`` (a 4xx on our parameters: an Error result quoting Stripe's type, code,
message and request id).

Only a few callers at a time hold a reservation with the pacer (``MAX_WAITING``); the others
queue in front of it. The pacer's token bucket gives each caller a send time when it asks, at
the rate of that moment: with a hundred threads queued, the ones that asked while the rate was
halved after a 429 keep their late send times while those asking after it recovered are
scheduled earlier, and the two groups go out together: 116 requests in one second at 90/s
in the 1,000-order bench, twice the rate with 200 threads (``test_stripe_pacing.py``), and
each 429 that causes halves the rate again. With a short queue the rate of the moment
applies to nearly every send.

Identical requests in flight together (same idempotency key and parameters, typically many
workers creating one new customer) are sent once (``single_flight.py``).
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
    retry_if_exception,
    stop_never,
    wait_random_exponential,
)

from consumer.engine import Pacer
from consumer.sync.failures import (
    IdempotencyConflict,
    StripeDown,
    StripeRejected,
    StripeUnavailable,
)
from consumer.sync.single_flight import SingleFlight

T = TypeVar("T")
log = logging.getLogger(__name__)

RATE_LIMIT_ATTEMPTS = 6
# Callers holding a reservation with the pacer at once. Requests delayed after their send time
# (a pause of the process) go out with the next ones, so a second can see the rate, plus the
# pacer's burst, plus these: 90 + 4.5 + 4 stays under Stripe's 100 at the sync's usual pace.
MAX_WAITING = 4
# 429s within this many seconds of one another are one congestion event: the pacer halves its
# rate once for them, as TCP halves once per round trip, not once per lost packet.
CONGESTION_WINDOW_S = 1.0


class _RateLimited(Exception):
    def __init__(self, error: stripe.RateLimitError, retry_after: float | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


class _Transient(Exception):
    """A failure the client would have retried (409, 5xx, connection error, timeout)."""

    def __init__(self, unavailable: StripeUnavailable, retryable: bool) -> None:
        super().__init__(str(unavailable))
        self.unavailable = unavailable
        self.retryable = retryable


class _Budget:
    """How many more retries of each kind one call may make."""

    def __init__(self, rate_limited: int, network: int) -> None:
        self.rate_limited = rate_limited - 1  # attempts, counting the first
        self.network = network  # retries after the first attempt

    def allows(self, error: BaseException) -> bool:
        if isinstance(error, _RateLimited):
            self.rate_limited -= 1
            return self.rate_limited >= 0
        if isinstance(error, _Transient) and error.retryable:
            self.network -= 1
            return self.network >= 0
        return False


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
        network_retries: int = 2,
        rate_limit_attempts: int = RATE_LIMIT_ATTEMPTS,
        backoff_s: float = 0.25,
        max_backoff_s: float = 8.0,
        network_backoff_s: float = 0.5,
        max_network_backoff_s: float = 5.0,
        sleep: Callable[[float], None] | None = None,
        max_waiting: int = MAX_WAITING,
    ) -> None:
        self.client = client
        self._pacer = pacer
        self._waiting = threading.Semaphore(max_waiting)
        self._attempts = rate_limit_attempts
        self._network_retries = network_retries
        self._backoff = wait_random_exponential(multiplier=backoff_s, max=max_backoff_s)
        # What the stripe client waits between its retries: 0.5 s doubling, at most 5 s.
        self._network_backoff = wait_random_exponential(
            multiplier=network_backoff_s, max=max_network_backoff_s
        )
        self._flights = SingleFlight()
        self._sleep = sleep
        self._clock = time.monotonic
        self._congestion_lock = threading.Lock()
        self._last_congestion = float("-inf")
        self.requests = 0

    @property
    def pacer(self) -> Pacer:
        return self._pacer

    @property
    def shared(self) -> int:
        """Calls answered by an identical request another thread had in flight."""
        return self._flights.shared

    def call(self, fn: Callable[[stripe.StripeClient], T]) -> T:
        """Run one request; raise ``StripeUnavailable`` / ``StripeRejected`` when it fails."""
        return self._call(fn)

    def call_shared(self, fn: Callable[[stripe.StripeClient], T], request: str) -> tuple[T, bool]:
        """``call``, except that a call while another with the same ``request`` (idempotency
        key and parameters, exactly) is in flight, or shortly after it succeeded, gets that
        one's answer. Returns (answer, whether it was another call's: a replay, as Stripe's
        own replays, of the object as it was then)."""
        return self._flights.run(request, lambda: self._call(fn))

    def _call(self, fn: Callable[[stripe.StripeClient], T]) -> T:
        options: dict[str, Any] = {"sleep": self._sleep} if self._sleep is not None else {}
        budget = _Budget(self._attempts, self._network_retries)
        retrying = Retrying(
            retry=retry_if_exception(budget.allows),
            stop=stop_never,
            wait=self._wait,
            reraise=True,
            **options,
        )
        try:
            result: T = retrying(self._once, fn)
            return result
        except _Transient as transient:
            raise transient.unavailable from transient.__cause__
        except _RateLimited as limited:
            raise StripeDown(
                f"Stripe Error: still rate limited after {self._attempts} attempts: "
                f"{describe(limited.error)}",
                setting="stripe.requests_per_second",
                retry_after=limited.retry_after,
                request_id=limited.error.request_id,
            ) from limited.error

    def probe(self) -> None:
        """One cheap authenticated read, paced: raises while Stripe cannot serve us."""
        with self._waiting:
            self._pacer.acquire()
        self.requests += 1
        try:
            self.client.v1.customers.list({"limit": 1})
        except stripe.StripeError as error:
            raise classify(error) from error

    def _congested(self, retry_after: float | None) -> None:
        now = self._clock()
        with self._congestion_lock:
            if now - self._last_congestion < CONGESTION_WINDOW_S:
                return
            self._last_congestion = now
        self._pacer.on_rate_limited(retry_after)

    def _wait(self, state: RetryCallState) -> float:
        outcome = state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, _Transient):
            backoff = float(self._network_backoff(state))
            retry_after = error.unavailable.retry_after
        else:
            backoff = float(self._backoff(state))
            retry_after = error.retry_after if isinstance(error, _RateLimited) else None
        return max(backoff, retry_after) if retry_after is not None else backoff

    def _once(self, fn: Callable[[stripe.StripeClient], T]) -> T:
        with self._waiting:
            self._pacer.acquire()
        self.requests += 1
        try:
            return fn(self.client)
        except stripe.RateLimitError as error:
            retry_after = retry_after_of(error)
            self._congested(retry_after)
            raise _RateLimited(error, retry_after) from error
        except stripe.StripeError as error:
            failure = classify(error)
            if isinstance(failure, StripeUnavailable):
                raise _Transient(failure, _should_retry(error, failure)) from error
            raise failure from error


def _should_retry(error: stripe.StripeError, failure: StripeUnavailable) -> bool:
    """What the stripe client retries, minus a 5xx Stripe replayed (it would replay it again)."""
    if isinstance(failure, IdempotencyConflict):
        return False  # the same key only ever gets the same refusal: re-plan instead
    if error.http_status in (401, 403):
        return False  # the key: no retry fixes it
    if isinstance(error, stripe.APIConnectionError):
        return bool(error.should_retry)
    advice = _advice(error)
    if advice is not None:
        return advice
    return not failure.replayed


def _advice(error: stripe.StripeError) -> bool | None:
    """Stripe's ``Stripe-Should-Retry`` header, if it gave one."""
    headers = error.headers or {}
    advice = str(headers.get("Stripe-Should-Retry") or headers.get("stripe-should-retry") or "")
    return advice.lower() == "true" if advice.lower() in ("true", "false") else None


def classify(error: stripe.StripeError) -> StripeUnavailable | StripeRejected:
    """Whose fault a failed request is: Stripe's or the world's (``StripeDown``), one request's
    passing trouble (``StripeUnavailable``), or our parameters' (``StripeRejected``)."""
    status = error.http_status
    text = f"Stripe Error: {describe(error)}"
    request_id = error.request_id
    if isinstance(error, stripe.IdempotencyError):
        return IdempotencyConflict(text, request_id=request_id)
    if isinstance(error, stripe.AuthenticationError | stripe.PermissionError) or status in (
        401,
        403,
    ):
        # A wrong, rolled or restricted key fails every record alike: never the record's fault.
        return StripeDown(text, setting="stripe.api_key", request_id=request_id)
    headers = error.headers or {}
    replayed = str(headers.get("Idempotent-Replayed", "")).lower() == "true"
    # Stripe says a retry of this very request cannot help (it stored the 5xx under the key):
    # the request's trouble, not Stripe's state.
    only_this_request = replayed or _advice(error) is False
    if isinstance(error, stripe.APIConnectionError) or status is None or status >= 500:
        if not only_this_request:
            return StripeDown(
                text,
                setting="stripe.api_base",
                retry_after=retry_after_of(error),
                request_id=request_id,
            )
    elif status != 409:  # 409: a concurrent request with the same key is still running
        return StripeRejected(text, request_id=request_id)
    # One request's trouble: a 5xx Stripe stored for this key, or a 409.
    return StripeUnavailable(
        text, retry_after=retry_after_of(error), request_id=request_id, replayed=replayed
    )


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
