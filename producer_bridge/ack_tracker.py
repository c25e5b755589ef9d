"""Which replay id is safe to checkpoint: the last one whose every message Kafka acknowledged.

One Salesforce event becomes zero or more Kafka messages (split per record, or
one dead letter), and acknowledgements arrive per partition, out of event order.
A replay id may be checkpointed only when its event *and every earlier event*
are fully acknowledged; checkpointing further would lose events on a crash.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Position:
    """A point in a channel's stream: the replay id and its commit time (if known)."""

    replay_id: bytes
    commit_timestamp: dt.datetime | None = None


@dataclass
class _Entry:
    position: Position
    pending: int
    failed: str | None = None


@dataclass(frozen=True)
class Token:
    """Identifies one tracked event; stale tokens from before a reset are ignored."""

    generation: int
    sequence: int


@dataclass
class AckTracker:
    """Single-threaded: used from the thread that produces and polls the producer."""

    _entries: deque[tuple[int, _Entry]] = field(default_factory=deque)
    _by_sequence: dict[int, _Entry] = field(default_factory=dict)
    _next: int = 0
    _generation: int = 0
    failure: str | None = None

    def add(self, position: Position, messages: int) -> Token:
        """Track an event that was turned into ``messages`` Kafka messages (may be 0)."""
        sequence = self._next
        self._next += 1
        entry = _Entry(position, messages)
        self._entries.append((sequence, entry))
        self._by_sequence[sequence] = entry
        return Token(self._generation, sequence)

    def ack(self, token: Token) -> None:
        entry = self._live(token)
        if entry is not None:
            entry.pending -= 1

    def fail(self, token: Token, reason: str) -> None:
        entry = self._live(token)
        if entry is not None:
            entry.failed = reason
            self.failure = self.failure or reason

    def advance(self) -> Position | None:
        """Drop the acknowledged prefix; the last dropped event's position, if any."""
        last: Position | None = None
        while self._entries:
            sequence, entry = self._entries[0]
            if entry.pending > 0 or entry.failed is not None:
                break
            self._entries.popleft()
            del self._by_sequence[sequence]
            last = entry.position
        return last

    @property
    def in_flight(self) -> int:
        """Events not yet fully acknowledged."""
        return len(self._entries)

    def reset(self) -> None:
        """Forget everything in flight (we resubscribe from the last checkpoint)."""
        self._entries.clear()
        self._by_sequence.clear()
        self._generation += 1
        self.failure = None

    def _live(self, token: Token) -> _Entry | None:
        if token.generation != self._generation:
            return None
        return self._by_sequence.get(token.sequence)
