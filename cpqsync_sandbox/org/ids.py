"""Mints Salesforce-shaped record ids for the simulator (id forms: salesforce.record_ids)."""

from __future__ import annotations

import itertools
import threading

from cpqsync.salesforce_ids import case_safe_suffix, normalize_id, to_18

__all__ = ["IdFactory", "case_safe_suffix", "normalize_id", "to_18"]

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Characters 4-5 of a real id name the pod; a fixed value marks ids minted by the simulator.
_POD = "Dp"


def _base62(n: int, width: int) -> str:
    digits = []
    for _ in range(width):
        n, rem = divmod(n, 62)
        digits.append(_BASE62[rem])
    return "".join(reversed(digits))


class IdFactory:
    """Mints ids per key prefix: ``<prefix><pod><counter>`` plus the case-safe suffix."""

    def __init__(self, start: int = 1) -> None:
        self._counter = itertools.count(start)
        self._lock = threading.Lock()

    def new_id(self, key_prefix: str) -> str:
        with self._lock:
            n = next(self._counter)
        body = f"{key_prefix}{_POD}{_base62(n * 7919 + 1000, 15 - len(key_prefix) - len(_POD))}"
        return to_18(body)
