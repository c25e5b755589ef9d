"""The store listener that turns committed transactions into change events on the bus."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from cpqsync_sandbox.org.cdc.event_schema import (
    ChangeEventSchema,
    build_event_schema,
    cdc_fields,
)
from cpqsync_sandbox.org.cdc.events import EncodedEvent, events_for_batch
from cpqsync_sandbox.org.changes import ChangeBatch
from cpqsync_sandbox.org.schema import FieldDef, ObjectDef

if TYPE_CHECKING:
    from cpqsync_sandbox.org.pubsub.bus import EventBus


class ChangePublisher:
    """Builds every object's change event schema, then publishes each committed batch.

    Pass :meth:`on_change` to ``store.add_change_listener``. It runs in the committing thread,
    so a subscriber sees a transaction's events as soon as the DML call returns.
    """

    def __init__(
        self, bus: EventBus, objects: Mapping[str, ObjectDef], *, change_origin: str = ""
    ) -> None:
        self._bus = bus
        self._change_origin = change_origin
        self._lock = threading.Lock()
        self._schemas: dict[str, ChangeEventSchema] = {}
        for name, obj in objects.items():
            self._install(build_event_schema(name, cdc_fields(obj)))

    def _install(self, schema: ChangeEventSchema) -> None:
        self._bus.schemas.register(schema)
        self._bus.add_entity(schema.entity)
        self._schemas[schema.entity] = schema

    def schema(self, entity: str) -> ChangeEventSchema:
        return self._schemas[entity]

    def on_change(self, batch: ChangeBatch) -> list[bytes]:
        """Publish the batch's events; returns their replay ids (handy in tests)."""
        with self._lock:
            schemas = dict(self._schemas)
        events: list[EncodedEvent] = events_for_batch(
            batch, schemas, change_origin=self._change_origin
        )
        return self._bus.publish(events)

    def add_field(self, entity: str, field_def: FieldDef) -> ChangeEventSchema:
        """An admin added a field: append it to the entity's schema, which gets a new id.

        Events already published keep the old id (still served by ``GetSchema``); later events
        use the new one, so subscribers must look schemas up by each event's id.
        """
        with self._lock:
            current = self._schemas.get(entity)
            if current is None:
                raise KeyError(f"no change event schema for entity {entity!r}")
            if field_def.name in current.by_name or field_def.name in current.component_of:
                raise ValueError(f"{entity} change events already carry {field_def.name!r}")
            schema = build_event_schema(entity, [*current.source_fields, field_def])
            self._install(schema)
            return schema
