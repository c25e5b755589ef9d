"""What the demo reads from the Stripe emulator's admin API (``/_emulator/``).

The admin endpoints are not rate limited or logged, so watching Stripe never
takes budget from the sync consumer or shows up in the request counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests


@dataclass(frozen=True)
class StripeRequestStats:
    total: int
    rate_limited: int  # answered 429


class StripeAdmin:
    def __init__(self, api_base: str, timeout_s: float = 10.0) -> None:
        self._base = api_base.rstrip("/") + "/_emulator"
        self._http = requests.Session()
        self._http.trust_env = False  # loopback: a proxy from the environment must not apply
        self._timeout = timeout_s

    def request_stats(self) -> StripeRequestStats:
        entries = self._get("requests")
        return StripeRequestStats(
            total=len(entries), rate_limited=sum(1 for e in entries if e.get("status") == 429)
        )

    def objects(self, kind: str) -> dict[str, dict[str, Any]]:
        """Every object of ``kind`` (``subscription_schedule``, ``invoice``...) by id."""
        return {str(obj["id"]): obj for obj in self._get(f"objects/{kind}")}

    def _get(self, path: str) -> list[dict[str, Any]]:
        response = self._http.get(f"{self._base}/{path}", timeout=self._timeout)
        response.raise_for_status()
        data: list[dict[str, Any]] = response.json()["data"]
        return data

    def close(self) -> None:
        self._http.close()
