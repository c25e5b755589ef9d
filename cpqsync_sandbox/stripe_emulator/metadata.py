"""Stripe's metadata rules: limits on create, and ``""`` unsetting keys on update."""

from __future__ import annotations

from typing import Any

from cpqsync_sandbox.stripe_emulator.errors import invalid

MAX_KEYS = 50
MAX_KEY_LENGTH = 40
MAX_VALUE_LENGTH = 500


def merged(current: dict[str, str] | None, update: Any, param: str = "metadata") -> dict[str, str]:
    """The metadata after applying ``update``: ``""`` clears all, a ``""`` value unsets a key."""
    result = dict(current or {})
    if update is None:
        return result
    if update == "":
        return {}
    for key, value in update.items():
        if len(key) > MAX_KEY_LENGTH:
            raise invalid(
                f"Invalid {param}[{key}]: Metadata keys can have up to {MAX_KEY_LENGTH} characters",
                f"{param}[{key}]",
            )
        if len(value) > MAX_VALUE_LENGTH:
            raise invalid(
                f"Invalid {param}[{key}]: Metadata values can have up to "
                f"{MAX_VALUE_LENGTH} characters",
                f"{param}[{key}]",
            )
        if value == "":
            result.pop(key, None)
        else:
            result[key] = value
    if len(result) > MAX_KEYS:
        raise invalid(
            f"Invalid {param}: You can specify up to {MAX_KEYS} keys, with key names up to "
            f"{MAX_KEY_LENGTH} characters long and values up to {MAX_VALUE_LENGTH} "
            "characters long.",
            param,
        )
    return result
