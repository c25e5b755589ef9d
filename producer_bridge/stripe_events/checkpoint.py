"""Where the Stripe event source stands, on the bridge's compacted checkpoint topic.

A ``Position`` is a watermark — every event created before it is on the topic, because
catch-up listed up to it and Kafka acknowledged what it found — plus the ids produced
since (created at or after the watermark), so a restart's catch-up from the watermark
skips what webhooks already produced. It is one ``BridgeCheckpoint`` keyed
``stripe/events`` (``replay_id`` holds the position as JSON), written every
``bridge.checkpoint_interval_s`` while it changes and on stop; a crash between writes can
only produce a few events again, which the billing writeback absorbs.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import dataclass, field
from typing import Final

from confluent_kafka import Producer

from producer_bridge.checkpoint_store import load_checkpoints
from producer_bridge.stripe_events import metrics
from schemas.codec import Codec
from schemas.headers import schema_header
from schemas.models import BridgeCheckpoint

CHANNEL: Final = "stripe/events"


@dataclass
class Position:
    watermark: int  # Unix seconds
    produced: dict[str, int] = field(default_factory=dict)  # event id -> created

    def to_checkpoint(self) -> BridgeCheckpoint:
        body = {"watermark": self.watermark, "produced": self.produced}
        return BridgeCheckpoint(
            channel=CHANNEL,
            replay_id=json.dumps(body, sort_keys=True).encode(),
            commit_timestamp=dt.datetime.fromtimestamp(self.watermark, dt.UTC),
        )

    @classmethod
    def from_checkpoint(cls, checkpoint: BridgeCheckpoint) -> Position:
        body = json.loads(checkpoint.replay_id)
        return cls(int(body["watermark"]), {str(k): int(v) for k, v in body["produced"].items()})


def load_position(
    bootstrap: str, topic: str, codec: Codec, extra: dict[str, str | int | float | bool]
) -> Position | None:
    found = load_checkpoints(bootstrap, topic, codec, extra_config=dict(extra)).get(CHANNEL)
    return Position.from_checkpoint(found) if found is not None else None


class PositionKeeper:
    """The live position: ids noted as Kafka acknowledges them, the watermark moved by
    catch-up, and the checkpoint written when it changed."""

    def __init__(self, position: Position, producer: Producer, codec: Codec, topic: str) -> None:
        self._position = position
        self._producer = producer
        self._codec = codec
        self._topic = topic
        self._lock = threading.Lock()
        self._dirty = False
        metrics.CHECKPOINT_SECONDS.set(position.watermark)

    @property
    def watermark(self) -> int:
        with self._lock:
            return self._position.watermark

    def produced_ids(self) -> list[str]:
        with self._lock:
            return list(self._position.produced)

    def note(self, event_id: str, created: int) -> None:
        with self._lock:
            if created >= self._position.watermark:
                self._position.produced[event_id] = created
                self._dirty = True

    def advance(self, watermark: int) -> None:
        with self._lock:
            if watermark <= self._position.watermark:
                return
            self._position.watermark = watermark
            self._position.produced = {
                i: c for i, c in self._position.produced.items() if c >= watermark
            }
            self._dirty = True
        metrics.CHECKPOINT_SECONDS.set(watermark)

    def write(self, timeout: float = 10.0) -> bool:
        """Write the position if it changed; True once Kafka acknowledged it."""
        with self._lock:
            if not self._dirty:
                return True
            checkpoint = self._position.to_checkpoint()
            self._dirty = False
        self._producer.produce(
            self._topic,
            self._codec.encode(checkpoint, self._topic),
            CHANNEL.encode(),
            headers=[schema_header(BridgeCheckpoint)],
        )
        if self._producer.flush(timeout) != 0:
            with self._lock:
                self._dirty = True
            return False
        return True
