"""Idempotency keys as Stripe keeps them: per API key, replayed for the same request, refused
for a different one, forgotten after the retention period (24 h by default).

Stripe stores a result only once the endpoint started executing: requests that fail
parameter validation, are rate limited or never got a response store nothing, so
retrying them with the same key runs them afresh.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

DEFAULT_RETENTION_SECONDS = 24 * 3600


@dataclass(frozen=True)
class StoredResponse:
    fingerprint: str
    endpoint: str
    status: int
    body: bytes
    request_id: str
    stored_at: float = field(default_factory=time.monotonic)


def fingerprint(method: str, path: str, pairs: list[tuple[str, str]]) -> str:
    """Parameters compared as sorted pairs, so key order on the wire does not matter."""
    return hashlib.sha256(repr((method, path, sorted(pairs))).encode()).hexdigest()


class IdempotencyStore:
    def __init__(self, retention_seconds: float = DEFAULT_RETENTION_SECONDS) -> None:
        self.retention_seconds = retention_seconds
        self._entries: dict[tuple[str, str], StoredResponse] = {}
        self._in_flight: set[tuple[str, str]] = set()

    def lookup(self, api_key: str, key: str) -> StoredResponse | None:
        entry = self._entries.get((api_key, key))
        if entry is None:
            return None
        if time.monotonic() - entry.stored_at > self.retention_seconds:
            del self._entries[(api_key, key)]
            return None
        return entry

    def begin(self, api_key: str, key: str) -> bool:
        """False when a request with this key is still executing (Stripe answers 409)."""
        if (api_key, key) in self._in_flight:
            return False
        self._in_flight.add((api_key, key))
        return True

    def finish(self, api_key: str, key: str, response: StoredResponse | None) -> None:
        self._in_flight.discard((api_key, key))
        if response is not None:
            self._entries[(api_key, key)] = response

    def clear(self) -> None:
        self._entries.clear()
        self._in_flight.clear()

    def prune(self) -> None:
        cutoff = time.monotonic() - self.retention_seconds
        for key in [k for k, v in self._entries.items() if v.stored_at < cutoff]:
            del self._entries[key]
