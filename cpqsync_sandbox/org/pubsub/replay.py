"""Opaque, variable-length replay ids, and the checks that reject forged or foreign ones.

A replay id names a position on one bus: it packs the event's global position and publish time
as unsigned varints (so ids grow in length as the bus does, like a real org's, and clients must
not assume a width), the bus's random tag (an id from another simulator run, i.e. another "org
instance", is rejected the way a real org rejects ids after an instance move), and a CRC so a
truncated or edited id is reported as corrupted instead of silently replaying from a wrong point.
"""

from __future__ import annotations

import secrets
import zlib
from dataclasses import dataclass

_VERSION = 1
_TAG_LEN = 4
_CRC_LEN = 4
_MAX_VARINT_BYTES = 10


class CorruptedReplayIdError(ValueError):
    """The bytes are not a replay id this bus issued."""


@dataclass(frozen=True, order=True)
class ReplayPosition:
    """Where a replay id points: the global position and the publish time (epoch ms)."""

    position: int
    published_ms: int


def _put_varint(value: int, out: bytearray) -> None:
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return


def _get_varint(data: bytes, start: int) -> tuple[int, int]:
    value = 0
    for i in range(_MAX_VARINT_BYTES):
        if start + i >= len(data):
            raise CorruptedReplayIdError("replay id is truncated")
        byte = data[start + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, start + i + 1
    raise CorruptedReplayIdError("replay id has an over-long number")


class ReplayIdCodec:
    """Issues and reads the replay ids of one bus."""

    def __init__(self, tag: bytes | None = None) -> None:
        self._tag = tag if tag is not None else secrets.token_bytes(_TAG_LEN)
        if len(self._tag) != _TAG_LEN:
            raise ValueError(f"bus tag must be {_TAG_LEN} bytes")

    def encode(self, where: ReplayPosition) -> bytes:
        out = bytearray([_VERSION])
        _put_varint(where.position, out)
        _put_varint(where.published_ms, out)
        out += self._tag
        out += zlib.crc32(out).to_bytes(_CRC_LEN, "big")
        return bytes(out)

    def decode(self, replay_id: bytes) -> ReplayPosition:
        if len(replay_id) < 1 + 2 + _TAG_LEN + _CRC_LEN:
            raise CorruptedReplayIdError("replay id is too short")
        body, crc = replay_id[:-_CRC_LEN], replay_id[-_CRC_LEN:]
        if zlib.crc32(body).to_bytes(_CRC_LEN, "big") != crc:
            raise CorruptedReplayIdError("replay id checksum does not match")
        if body[0] != _VERSION:
            raise CorruptedReplayIdError("replay id has an unknown version")
        position, offset = _get_varint(body, 1)
        published_ms, offset = _get_varint(body, offset)
        if body[offset:] != self._tag:
            raise CorruptedReplayIdError("replay id was issued by another org instance")
        return ReplayPosition(position, published_ms)
