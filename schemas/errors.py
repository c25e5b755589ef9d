"""The errors the codec raises, kept apart so framing modules can share them."""

from __future__ import annotations

from enum import Enum


class DecodeFailure(Enum):
    """Why bytes could not be decoded; the consumer routes every kind to the DLQ
    except REGISTRY_UNAVAILABLE, which is an outage rather than bad data."""

    EMPTY = "empty"
    WRONG_MARKER = "wrong marker"
    UNKNOWN_SCHEMA = "unknown schema"
    TRUNCATED = "truncated"
    MALFORMED = "malformed"
    REGISTRY_UNAVAILABLE = "registry unavailable"


class SchemaDecodeError(Exception):
    """The only exception ``Codec.decode`` raises; ``kind`` says what was wrong."""

    def __init__(self, kind: DecodeFailure, detail: str, topic: str | None = None) -> None:
        where = f" on topic {topic}" if topic else ""
        super().__init__(f"{kind.name}: cannot decode message{where}: {detail}")
        self.kind = kind
        self.detail = detail
        self.topic = topic

    @property
    def retryable(self) -> bool:
        """True when trying again later may succeed (the registry was unreachable)."""
        return self.kind is DecodeFailure.REGISTRY_UNAVAILABLE


class SchemaEncodeError(Exception):
    """A record could not be encoded: its content breaks the schema, or the registry failed."""
