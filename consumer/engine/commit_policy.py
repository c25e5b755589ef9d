"""How often to commit: after enough completed messages or enough time, whichever first.

Committing is a synchronous round trip (and a flush of the outputs before it),
so doing it per message would cap throughput; waiting too long widens the
window a crash makes us reprocess. Revocation and shutdown commit regardless.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from consumer.engine.config import EngineSettings


class CommitPolicy:
    def __init__(
        self,
        interval_s: float,
        every_messages: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval_s <= 0 or every_messages < 1:
            raise ValueError("commit interval must be > 0 and every_messages >= 1")
        self._interval_s = interval_s
        self._every_messages = every_messages
        self._clock = clock
        self._last = clock()

    @classmethod
    def from_settings(cls, settings: EngineSettings) -> CommitPolicy:
        return cls(settings.commit_interval_ms / 1000, settings.commit_every_messages)

    def due(self, completed_since_last: int) -> bool:
        if completed_since_last >= self._every_messages:
            return True
        return completed_since_last > 0 and self._clock() - self._last >= self._interval_s

    def committed(self) -> None:
        self._last = self._clock()
