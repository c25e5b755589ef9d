"""Deterministic Idempotency-Key values: the same intent always sends the same key.

A key is the Salesforce record id, the operation kind and a hash of the canonical parameters
(with the update target), so a retry or a replayed event repeats the exact request Stripe has
already seen (and gets its first response back), while a changed intent — new amount, new
address — gets a new key instead of a 400 `idempotency_error`. Placeholders are hashed as
written, so the key does not depend on ids that earlier operations return.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

MAX_KEY_LENGTH = 255  # Stripe's limit
_PREFIX = "cpqsync"


def canonical_json(value: Any) -> str:
    """One text per value: sorted keys, no whitespace, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def idempotency_key(record_id: str, kind: str, params: Any, target: Any = None) -> str:
    digest = hashlib.sha256(
        canonical_json({"params": params, "target": target}).encode()
    ).hexdigest()[:40]
    key = f"{_PREFIX}:{record_id}:{kind}:{digest}"
    if len(key) > MAX_KEY_LENGTH:
        # Record ids are 18 characters and kinds short, so this is a programming error.
        raise ValueError(f"idempotency key over {MAX_KEY_LENGTH} characters: {key!r}")
    return key
