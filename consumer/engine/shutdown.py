"""Turning SIGTERM/SIGINT into a graceful stop.

Orchestrators send SIGTERM and wait a grace period before SIGKILL; the engine
uses it to finish running work and commit. A second signal falls back to the
previous handler (Ctrl-C twice interrupts for real).
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)

_DEFAULT_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def install_signal_handlers(
    request_stop: Callable[[], None],
    signals: Iterable[signal.Signals] = _DEFAULT_SIGNALS,
) -> Callable[[], None]:
    """Call ``request_stop`` on the first of ``signals``; return a restorer of the old handlers.

    Must be called from the main thread (a Python rule for signal handlers).
    """
    previous: dict[signal.Signals, Any] = {}

    def handle(signum: int, frame: FrameType | None) -> None:
        sig = signal.Signals(signum)
        log.info("received %s, stopping gracefully", sig.name)
        restore()
        request_stop()

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        previous.clear()

    for sig in signals:
        previous[sig] = signal.signal(sig, handle)
    return restore
