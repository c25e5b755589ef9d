"""Run a few blocking calls at the same time and collect every outcome.

The sync spends its time waiting for Stripe's round trips; independent calls (a batch's roots,
a plan stage's operations) wait together instead of one after another. The calling thread runs
the first call itself, so a pool that is busy elsewhere never leaves it idle, and every call is
waited for, so nothing of a batch is still running when its outcome is reported.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
A = TypeVar("A")
B = TypeVar("B")


class SideBySide:
    """Thread-safe. The pool starts at first use; ``close`` stops it (the next use restarts it)."""

    def __init__(self, threads: int, name: str) -> None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        self._threads = threads
        self._name = name
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def run(self, calls: Sequence[Callable[[], T]]) -> list[T | Exception]:
        """Each call's result, or the exception it raised, in the order of ``calls``."""
        if not calls:
            return []
        others: list[Future[T]] = [self._executor().submit(call) for call in calls[1:]]
        outcomes: list[T | Exception] = [_outcome(calls[0])]
        outcomes.extend(_outcome(future.result) for future in others)
        return outcomes

    def pair(self, first: Callable[[], A], second: Callable[[], B]) -> tuple[A, B]:
        """Both results; an exception from either is raised (after both have finished)."""
        later = self._executor().submit(second)
        try:
            one = first()
        finally:
            futures.wait([later])
        return one, later.result()

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix=self._name)
            return self._pool


def _outcome(call: Callable[[], T]) -> T | Exception:
    try:
        return call()
    except Exception as error:  # noqa: BLE001 - handed to the caller, which decides
        return error
