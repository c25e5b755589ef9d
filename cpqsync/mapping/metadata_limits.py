"""Stripe's metadata limits: at most 50 keys, keys up to 40 characters without square brackets,
values up to 500 characters.

Stripe rejects the whole request when one of these is broken, so we check before sending and
name the offending key: the user can then shorten a mapping instead of reading a Stripe 400.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_KEYS = 50
MAX_KEY_LENGTH = 40
MAX_VALUE_LENGTH = 500


def check_metadata_key(key: str) -> None:
    """Raise ValueError when ``key`` cannot be a Stripe metadata key."""
    if not key:
        raise ValueError("a metadata key cannot be empty")
    if len(key) > MAX_KEY_LENGTH:
        raise ValueError(
            f"metadata key {key!r} is {len(key)} characters; Stripe allows at most {MAX_KEY_LENGTH}"
        )
    if "[" in key or "]" in key:
        raise ValueError(f"metadata key {key!r} contains square brackets, which Stripe refuses")


def metadata_problems(metadata: Mapping[str, Any], *, label: str) -> list[str]:
    """Every limit ``metadata`` breaks, phrased for a Sync Record about a Stripe ``label``."""
    found: list[str] = []
    if len(metadata) > MAX_KEYS:
        found.append(
            f"the Stripe {label} would carry {len(metadata)} metadata keys; "
            f"Stripe allows at most {MAX_KEYS}"
        )
    for key, value in metadata.items():
        try:
            check_metadata_key(key)
        except ValueError as exc:
            found.append(f"on the Stripe {label}: {exc}")
        if isinstance(value, str) and len(value) > MAX_VALUE_LENGTH:
            found.append(
                f"metadata value for {key!r} on the Stripe {label} is {len(value)} characters; "
                f"Stripe allows at most {MAX_VALUE_LENGTH}"
            )
    return found
