"""Every API request the emulator answered (or dropped), so tests assert exactly which calls
were made. API keys are never recorded."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class RequestLogEntry:
    method: str
    path: str
    params: dict[str, Any]
    idempotency_key: str | None
    status: int  # 0 when no response was sent (dropped connection, timeout)
    latency_ms: float
    request_id: str
    replayed: bool
    fault: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
