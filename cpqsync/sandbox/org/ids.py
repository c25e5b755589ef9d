"""Salesforce record ids: 15-character case-sensitive form and its 18-character case-safe form.

The 18-character suffix encodes, for each 5-character chunk of the 15-character id, which
characters are upper case; Salesforce tools compare ids case-insensitively only because of it.
"""

from __future__ import annotations

import itertools
import re
import threading

_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID15 = re.compile(r"[a-zA-Z0-9]{15}")
_ID18 = re.compile(r"[a-zA-Z0-9]{18}")
# Characters 4-5 of a real id name the pod; a fixed value marks ids minted by the simulator.
_POD = "Dp"


def case_safe_suffix(id15: str) -> str:
    """The three characters that turn a 15-character id into its 18-character form."""
    out = []
    for chunk_start in range(0, 15, 5):
        bits = 0
        for i, ch in enumerate(id15[chunk_start : chunk_start + 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << i
        out.append(_SUFFIX_ALPHABET[bits])
    return "".join(out)


def to_18(id15: str) -> str:
    return id15 + case_safe_suffix(id15)


def normalize_id(value: str) -> str | None:
    """The canonical 18-character id for a 15- or 18-character input, or None if malformed.

    An 18-character id's suffix restores the case of its first 15 characters, so a lower-cased
    18-character id (as some tools produce) still names the same record.
    """
    if _ID15.fullmatch(value):
        return to_18(value)
    if not _ID18.fullmatch(value):
        return None
    body, suffix = value[:15], value[15:].upper()
    restored = []
    for chunk, code in enumerate(suffix):
        bits = _SUFFIX_ALPHABET.find(code)
        if bits < 0:
            return None
        for i, ch in enumerate(body[chunk * 5 : chunk * 5 + 5]):
            restored.append(ch.upper() if bits & (1 << i) else ch.lower())
    canonical = "".join(restored)
    if case_safe_suffix(canonical) != suffix:
        return None  # e.g. a digit where the suffix says an upper-case letter stands
    return canonical + suffix


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
