"""Every schema version the org has issued, and the current one per entity.

Old versions stay retrievable: events published before a schema change keep their schema id,
and a subscriber replaying them calls ``GetSchema`` with that id.
"""

from __future__ import annotations

import threading

from cpqsync_sandbox.org.cdc.event_schema import ChangeEventSchema


class UnknownSchemaError(KeyError):
    """No schema with that id or for that entity."""


class SchemaRegistry:
    def __init__(self) -> None:
        self._by_id: dict[str, ChangeEventSchema] = {}
        self._current: dict[str, ChangeEventSchema] = {}
        self._lock = threading.Lock()

    def register(self, schema: ChangeEventSchema) -> None:
        """Make ``schema`` its entity's current version (earlier versions stay known)."""
        with self._lock:
            self._by_id[schema.schema_id] = schema
            self._current[schema.entity] = schema

    def by_id(self, schema_id: str) -> ChangeEventSchema:
        with self._lock:
            try:
                return self._by_id[schema_id]
            except KeyError:
                raise UnknownSchemaError(f"no schema with id {schema_id!r}") from None

    def current(self, entity: str) -> ChangeEventSchema:
        with self._lock:
            try:
                return self._current[entity]
            except KeyError:
                raise UnknownSchemaError(f"no change event schema for entity {entity!r}") from None

    def current_all(self) -> dict[str, ChangeEventSchema]:
        with self._lock:
            return dict(self._current)

    def entities(self) -> list[str]:
        with self._lock:
            return list(self._current)
