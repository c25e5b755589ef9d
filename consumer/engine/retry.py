"""When to try a failed message again: capped exponential backoff with full jitter.

Built on tenacity's wait strategy so the backoff curve is the well-tested one;
the engine does not sleep in a worker thread, it parks the message until the
delay has passed and lets the worker take other keys meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass

from tenacity import RetryCallState, wait_random_exponential

from consumer.engine.config import EngineSettings


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    initial_backoff_s: float
    max_backoff_s: float

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if not 0 < self.initial_backoff_s <= self.max_backoff_s:
            raise ValueError(
                "backoff must satisfy 0 < initial <= max, got "
                f"initial={self.initial_backoff_s}s max={self.max_backoff_s}s"
            )

    @classmethod
    def from_settings(cls, settings: EngineSettings) -> RetryPolicy:
        return cls(
            max_attempts=settings.max_attempts,
            initial_backoff_s=settings.retry_initial_backoff_ms / 1000,
            max_backoff_s=settings.retry_max_backoff_ms / 1000,
        )

    def may_retry(self, attempts_made: int) -> bool:
        return attempts_made < self.max_attempts

    def delay(self, attempts_made: int, retry_after: float | None = None) -> float:
        """Seconds to wait before attempt ``attempts_made + 1``.

        A server's ``Retry-After`` is a floor, not a replacement: several
        consumers told the same instant would otherwise retry in lockstep.
        """
        wait = wait_random_exponential(multiplier=self.initial_backoff_s, max=self.max_backoff_s)
        state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
        state.attempt_number = attempts_made
        backoff = float(wait(state))
        if retry_after is not None:
            return max(backoff, retry_after)
        return backoff
