"""Deterministic Idempotency-Key values: the same intent always sends the same key.

A key is the Salesforce record id, the operation kind and a hash of the canonical parameters
(with the update target), so a retry or a replayed event repeats the exact request Stripe has
already seen (and gets its first response back), while a changed intent — new amount, new
address — gets a new key instead of a 400 `idempotency_error`. Placeholders are hashed as
written, so the key does not depend on ids that earlier operations return.

Keys already sent live on in Stripe's idempotency history, so the canonical text must never
change by a byte: it is exactly ``json.dumps(value, sort_keys=True, separators=(",", ":"),
ensure_ascii=False)`` (tests/planner/test_plan_stability.py pins real plans' keys).
"""

from __future__ import annotations

import hashlib
import json
import json.encoder
from collections.abc import Callable
from typing import Any

MAX_KEY_LENGTH = 255  # Stripe's limit
_PREFIX = "cpqsync"

_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _c_encoder() -> Callable[[Any, int], Any] | None:
    """The C encoder ``json.dumps`` itself runs, built once instead of once per call.

    Every operation of every plan is hashed, and rebuilding the encoder per call was a third of
    the hashing time. No circular-reference markers: plans are trees built by the planner.
    None where CPython's accelerator is missing (then ``JSONEncoder.encode``: same text).
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    encoder: Callable[[Any, int], Any] = make(
        None,  # markers
        _ENCODER.default,
        json.encoder.encode_basestring,  # ensure_ascii=False
        None,  # indent
        ":",
        ",",
        True,  # sort_keys
        False,  # skipkeys
        True,  # allow_nan
    )
    return encoder


_C_ENCODE = _c_encoder()


def canonical_json(value: Any) -> str:
    """One text per value: sorted keys, no whitespace, UTF-8 kept."""
    if _C_ENCODE is None:
        return _ENCODER.encode(value)
    return "".join(_C_ENCODE(value, 0))


def _hashed_text(params: Any, target: Any) -> str:
    """``canonical_json({"params": params, "target": target})``, without encoding the wrapper
    dict: its two keys are already in sorted order, so the text is spliced around them."""
    if target is None:  # all creates
        return f'{{"params":{canonical_json(params)},"target":null}}'
    return f'{{"params":{canonical_json(params)},"target":{canonical_json(target)}}}'


def idempotency_key(record_id: str, kind: str, params: Any, target: Any = None) -> str:
    # The first 20 bytes in hex: the first 40 characters of the hex digest.
    digest = hashlib.sha256(_hashed_text(params, target).encode()).digest()[:20].hex()
    key = f"{_PREFIX}:{record_id}:{kind}:{digest}"
    if len(key) > MAX_KEY_LENGTH:
        # Record ids are 18 characters and kinds short, so this is a programming error.
        raise ValueError(f"idempotency key over {MAX_KEY_LENGTH} characters: {key!r}")
    return key
