"""Ctrl-C and SIGTERM as an exception the demo unwinds through, stopping its children.

Both signals raise :class:`Interrupted` in the main thread, so whatever the demo
was waiting for (a child's start, a REST call, a sleep) is abandoned and the
``finally`` that stops the stack runs. While the stack stops, further signals
are only noted: a second impatient Ctrl-C must not cut the clean-up short (the
children would still die with us, by PR_SET_PDEATHSIG, but without committing).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """The user (SIGINT) or a supervisor (SIGTERM) asked the demo to stop."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise(signum: int, _frame: FrameType | None) -> None:
    raise Interrupted(signum)


@contextmanager
def _handlers(handler: Any) -> Iterator[None]:
    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def raising_on_stop_signals() -> Iterator[None]:
    with _handlers(_raise):
        yield


@contextmanager
def deferring_stop_signals() -> Iterator[list[int]]:
    """Signals received meanwhile are collected in the yielded list, not acted on."""
    received: list[int] = []

    def note(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)

    with _handlers(note):
        yield received
