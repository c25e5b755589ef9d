"""Avro single-object encoding: ``C3 01``, the 8-byte CRC-64-AVRO fingerprint, the body.

It is the Avro specification's own framing for one datum, so any Avro library
that knows our ``.avsc`` files can read our topics without a schema registry.
"""

from __future__ import annotations

from typing import Final

from schemas.errors import DecodeFailure, SchemaDecodeError

MARKER: Final = b"\xc3\x01"
FINGERPRINT_SIZE: Final = 8
HEADER_SIZE: Final = len(MARKER) + FINGERPRINT_SIZE


def header(fingerprint: bytes) -> bytes:
    """The bytes that precede a body written with the schema of ``fingerprint``."""
    if len(fingerprint) != FINGERPRINT_SIZE:
        raise ValueError(f"a CRC-64-AVRO fingerprint has 8 bytes, got {len(fingerprint)}")
    return MARKER + fingerprint


def read_fingerprint(data: bytes, topic: str | None = None) -> bytes:
    """The writer's fingerprint from a single-object encoded message (its first byte is C3)."""
    if len(data) >= 2 and data[1] != MARKER[1]:
        raise SchemaDecodeError(
            DecodeFailure.WRONG_MARKER,
            f"starts with {data[:2].hex()}, not the single-object marker c301",
            topic,
        )
    if len(data) < HEADER_SIZE:
        raise SchemaDecodeError(
            DecodeFailure.TRUNCATED,
            f"{len(data)} bytes is shorter than the {HEADER_SIZE}-byte single-object header",
            topic,
        )
    return data[len(MARKER) : HEADER_SIZE]
