"""How a handler reports what became of each message, and the errors it may raise instead.

Three outcomes, mirroring the three things the engine can do with an offset:
``Processed`` (move on, producing the outputs first), ``Retry`` (try the same
message again later; its key waits, other keys go on) and ``Fail`` (a permanent
error: hand it to ``on_give_up`` so the handler can record it, then move on).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from consumer.engine.messages import OutputMessage


class RetryableError(Exception):
    """A failure that may pass if tried again: rate limits, 5xx, timeouts, network errors.

    ``retry_after`` (seconds) is the server's own hint (``Retry-After``); the
    engine waits at least that long before the next attempt.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        if retry_after is not None and retry_after < 0:
            raise ValueError(f"retry_after must be >= 0 seconds, got {retry_after}")
        self.retry_after = retry_after


class DependencyDown(RetryableError):
    """A systemic failure: a dependency the role needs is unreachable or refuses it as a whole.

    Network, DNS, TLS, timeouts, 401/403, 5xx, rate limits beyond pacing, API limits: the
    world's fault, never the record's. The engine does not count it against the message's
    attempts and never gives up on it: it holds the message (so nothing is committed past
    it), stops handing out work, probes ``dependency`` and resumes once it answers.
    ``setting`` names the configuration an operator should check (``stripe.api_key``).
    """

    dependency: str = "unknown"
    setting: str | None = None

    def __init__(
        self,
        message: str,
        *,
        dependency: str | None = None,
        setting: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, retry_after=retry_after)
        if dependency is not None:
            self.dependency = dependency
        if setting is not None:
            self.setting = setting


class PermanentError(Exception):
    """A failure that trying again cannot fix (bad data, a rejected request)."""


@dataclass(frozen=True, slots=True)
class Processed:
    outputs: Sequence[OutputMessage] = ()


@dataclass(frozen=True, slots=True)
class Retry:
    error: BaseException
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class Fail:
    error: BaseException


Outcome = Processed | Retry | Fail


@dataclass(frozen=True, slots=True)
class Failure:
    """What ``on_give_up`` is told: the last error and how many attempts were made."""

    error: BaseException
    attempts: int
    # True when attempts ran out on a retryable error, False for a permanent one.
    retries_exhausted: bool


def outcome_from_exception(error: BaseException) -> Retry | Fail:
    """Classify an exception a handler raised.

    Unknown exceptions count as retryable: most unexpected failures in an I/O
    handler are transient, and attempts are bounded, so a real bug still ends
    in ``on_give_up`` rather than in a silent skip.
    """
    if isinstance(error, PermanentError):
        return Fail(error)
    if isinstance(error, RetryableError):
        return Retry(error, error.retry_after)
    return Retry(error)
