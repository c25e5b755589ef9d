"""The org's event bus: change events per channel, replay ids, retention, delivery allocation.

Every event is stored once with a global position; a channel is the subset of events it carries
(``/data/<Object>ChangeEvent`` one entity, ``/data/ChangeEvents`` all of them, a custom
``/data/X__chn`` the entities it was given), so one channel's replay ids are not contiguous, as on
a real org. Events older than the retention window (default 72 h of :class:`SimulatedClock`
time) are dropped; a replay id pointing before the oldest kept event is then rejected.
"""

from __future__ import annotations

import bisect
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from cpqsync_sandbox.org.cdc.channels import (
    ALL_CHANGES_CHANNEL,
    entity_channel,
    is_custom_channel,
)
from cpqsync_sandbox.org.cdc.events import EncodedEvent, header_only_event
from cpqsync_sandbox.org.cdc.registry import SchemaRegistry
from cpqsync_sandbox.org.pubsub.clock import SimulatedClock
from cpqsync_sandbox.org.pubsub.replay import (
    CorruptedReplayIdError,
    ReplayIdCodec,
    ReplayPosition,
)

DEFAULT_RETENTION_HOURS = 72.0
# The user a real org names on system-generated gap and overflow events is an org-specific id;
# ours is a fixed, well-formed User id.
SYSTEM_USER_ID = "005000000000001AAA"
GAP_TYPES = ("GAP_CREATE", "GAP_UPDATE", "GAP_DELETE", "GAP_UNDELETE")

Preset = Literal["LATEST", "EARLIEST", "CUSTOM"]


class UnknownTopicError(KeyError):
    """No channel of that name on this org."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown topic"


class ReplayValidationError(ValueError):
    """A CUSTOM subscription without a usable replay id."""


class DeliveryAllocationExceededError(RuntimeError):
    """The org's event delivery allocation is spent."""


@dataclass(frozen=True)
class StoredEvent:
    position: int
    replay_id: bytes
    event_id: str
    entity: str
    schema_id: str
    payload: bytes
    published_ms: int


@dataclass
class _Channel:
    name: str
    entities: frozenset[str] | None  # None: every entity
    events: list[StoredEvent] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    purged_through: int = 0

    def carries(self, entity: str) -> bool:
        return self.entities is None or entity in self.entities


class EventBus:
    """Thread-safe store of change events that the Pub/Sub server reads from."""

    def __init__(
        self,
        *,
        retention_hours: float = DEFAULT_RETENTION_HOURS,
        clock: SimulatedClock | None = None,
        codec: ReplayIdCodec | None = None,
    ) -> None:
        if retention_hours <= 0:
            raise ValueError(f"retention must be positive, got {retention_hours} hours")
        self.retention_hours = retention_hours
        self.clock = clock or SimulatedClock()
        self.schemas = SchemaRegistry()
        self._codec = codec or ReplayIdCodec()
        self._cond = threading.Condition(threading.RLock())
        self._channels: dict[str, _Channel] = {
            ALL_CHANGES_CHANNEL: _Channel(ALL_CHANGES_CHANNEL, None)
        }
        self._last_position = 0
        self._last_published_ms = 0
        self._commit_number = 0
        self._allocation: int | None = None
        self._delivered = 0

    # --- topology ---------------------------------------------------------------------------

    def add_entity(self, entity: str) -> str:
        """Open ``/data/<Entity>ChangeEvent`` (idempotent) and return its name."""
        name = entity_channel(entity)
        with self._cond:
            self._channels.setdefault(name, _Channel(name, frozenset({entity})))
        return name

    def add_custom_channel(self, name: str, entities: Iterable[str]) -> None:
        """Open a custom channel ``/data/<Name>__chn`` carrying the given entities' events."""
        if not is_custom_channel(name):
            raise ValueError(f"custom channel names look like /data/Name__chn, got {name!r}")
        chosen = frozenset(entities)
        if not chosen:
            raise ValueError(f"custom channel {name!r} needs at least one entity")
        with self._cond:
            if name in self._channels:
                raise ValueError(f"channel {name!r} already exists")
            self._channels[name] = _Channel(name, chosen)

    def topics(self) -> list[str]:
        with self._cond:
            return sorted(self._channels)

    def topic_schema_id(self, topic: str) -> str:
        """The schema id of a single-entity channel; empty for channels mixing entities
        (their events each name their own schema id)."""
        channel = self._channel(topic)
        if channel.entities is None or len(channel.entities) != 1:
            return ""
        (entity,) = channel.entities
        return self.schemas.current(entity).schema_id

    def _channel(self, topic: str) -> _Channel:
        with self._cond:
            channel = self._channels.get(topic)
        if channel is None:
            raise UnknownTopicError(f"topic {topic!r} does not exist on this org")
        return channel

    # --- publishing -------------------------------------------------------------------------

    def publish(self, events: Sequence[EncodedEvent]) -> list[bytes]:
        """Append events in order to every channel that carries them; return their replay ids."""
        replay_ids: list[bytes] = []
        with self._cond:
            now = max(self.clock.now_ms(), self._last_published_ms)
            self._last_published_ms = now
            self._purge_locked(now)
            for event in events:
                self._last_position += 1
                position = self._last_position
                replay_id = self._codec.encode(ReplayPosition(position, now))
                stored = StoredEvent(
                    position,
                    replay_id,
                    str(uuid.uuid4()),
                    event.entity,
                    event.schema_id,
                    event.payload,
                    now,
                )
                for channel in self._channels.values():
                    if channel.carries(event.entity):
                        channel.events.append(stored)
                        channel.positions.append(position)
                replay_ids.append(replay_id)
            self._cond.notify_all()
        return replay_ids

    def next_commit_number(self) -> int:
        with self._cond:
            self._commit_number += 1
            return self._commit_number

    def _system_event(
        self, entity: str, change_type: str, record_ids: Sequence[str], commit_user: str
    ) -> bytes:
        schema = self.schemas.current(entity)
        event = header_only_event(
            schema,
            change_type,
            record_ids,
            transaction_key=str(uuid.uuid4()),
            commit_timestamp_ms=self.clock.now_ms(),
            commit_number=self.next_commit_number(),
            commit_user=commit_user,
        )
        return self.publish([event])[0]

    def emit_gap(
        self,
        entity: str,
        record_ids: Sequence[str],
        change_type: str,
        *,
        commit_user: str = SYSTEM_USER_ID,
    ) -> bytes:
        """Publish a ``GAP_*`` event (``change_type`` given as ``UPDATE`` or ``GAP_UPDATE``)."""
        gap_type = change_type if change_type.startswith("GAP_") else f"GAP_{change_type}"
        if gap_type not in GAP_TYPES:
            raise ValueError(f"gap change type must be one of {GAP_TYPES}, got {change_type!r}")
        if not record_ids:
            raise ValueError("a gap event names the records whose changes were lost")
        return self._system_event(entity, gap_type, record_ids, commit_user)

    def emit_overflow(self, entity: str, *, commit_user: str = SYSTEM_USER_ID) -> bytes:
        """Publish a ``GAP_OVERFLOW`` event: no record ids, the subscriber resyncs the entity."""
        return self._system_event(entity, "GAP_OVERFLOW", (), commit_user)

    # --- retention --------------------------------------------------------------------------

    def advance_clock(self, hours: float) -> None:
        """Move simulated time forward, dropping events that fall out of retention."""
        self.clock.advance(hours)
        with self._cond:
            self._purge_locked(self.clock.now_ms())
            self._cond.notify_all()

    def _cutoff_ms(self, now_ms: int) -> int:
        return now_ms - int(self.retention_hours * 3600 * 1000)

    def _purge_locked(self, now_ms: int) -> None:
        cutoff = self._cutoff_ms(now_ms)
        for channel in self._channels.values():
            expired = 0
            for event in channel.events:
                if event.published_ms >= cutoff:
                    break
                expired += 1
            if expired:
                channel.purged_through = channel.positions[expired - 1]
                del channel.events[:expired]
                del channel.positions[:expired]

    # --- subscribing ------------------------------------------------------------------------

    def start_position(self, topic: str, preset: Preset, replay_id: bytes = b"") -> int:
        """The position a new subscription reads after. Raises :class:`UnknownTopicError`,
        :class:`ReplayValidationError` or :class:`CorruptedReplayIdError`."""
        channel = self._channel(topic)
        with self._cond:
            self._purge_locked(self.clock.now_ms())
            if preset == "LATEST":
                return self._last_position
            if preset == "EARLIEST":
                return channel.purged_through
            if not replay_id:
                raise ReplayValidationError("replay_preset is CUSTOM but no replay_id was given")
            where = self._codec.decode(replay_id)
            if where.published_ms < self._cutoff_ms(self.clock.now_ms()):
                raise CorruptedReplayIdError(
                    f"replay id is outside the {self.retention_hours:g} h retention window"
                )
            if where.position < channel.purged_through:
                raise CorruptedReplayIdError("events after this replay id are no longer retained")
            if where.position > self._last_position:
                raise ReplayValidationError("replay id is ahead of this org's event stream")
            return where.position

    def events_after(self, topic: str, position: int, limit: int) -> list[StoredEvent]:
        channel = self._channel(topic)
        with self._cond:
            start = bisect.bisect_right(channel.positions, position)
            return channel.events[start : start + limit]

    def has_events_after(self, topic: str, position: int) -> bool:
        channel = self._channel(topic)
        with self._cond:
            return bool(channel.positions) and channel.positions[-1] > position

    def replay_id_at(self, topic: str, position: int) -> bytes:
        """A replay id for a subscriber standing at ``position``: resubscribing with it (CUSTOM)
        resumes right after."""
        channel = self._channel(topic)
        with self._cond:
            index = bisect.bisect_left(channel.positions, position)
            if index < len(channel.positions) and channel.positions[index] == position:
                return channel.events[index].replay_id
            now = max(self.clock.now_ms(), self._last_published_ms)
            return self._codec.encode(ReplayPosition(position, now))

    def wait(self, ready: Callable[[], bool], timeout_s: float) -> bool:
        """Block until ``ready()`` holds (checked on every publish and :meth:`wake`) or timeout."""
        with self._cond:
            return self._cond.wait_for(ready, timeout=timeout_s)

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    # --- delivery allocation ----------------------------------------------------------------

    def set_delivery_allocation(self, limit: int | None) -> None:
        """Cap further deliveries across all subscribers (None: unlimited); resets the count."""
        with self._cond:
            self._allocation = limit
            self._delivered = 0

    def take_deliveries(self, wanted: int) -> int:
        """Reserve up to ``wanted`` deliveries; raise once the allocation is spent."""
        with self._cond:
            if self._allocation is None:
                self._delivered += wanted
                return wanted
            remaining = self._allocation - self._delivered
            if remaining <= 0:
                raise DeliveryAllocationExceededError(
                    "You have exceeded the event delivery limit for your org."
                )
            granted = min(wanted, remaining)
            self._delivered += granted
            return granted

    def check_allocation(self) -> None:
        with self._cond:
            if self._allocation is not None and self._delivered >= self._allocation:
                raise DeliveryAllocationExceededError(
                    "You have exceeded the event delivery limit for your org."
                )
