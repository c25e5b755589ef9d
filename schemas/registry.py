"""Confluent framing (magic byte 0, 4-byte big-endian schema id) through a schema registry.

Schemas are registered on first use under the topic's value subject
(``<topic>-value``, Confluent's default TopicNameStrategy), so Confluent
serializers, ksqlDB and Connect find them where they expect. Ids are cached for
the life of the process: registry ids never change meaning.
"""

from __future__ import annotations

import threading
from typing import Any, Final
from urllib.parse import urlsplit

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient, SchemaRegistryError

from cpqsync.observability.logging import redact, register_secrets
from schemas.catalog import ReadPlan, SchemaCatalog, SchemaCatalogError, SchemaVersion
from schemas.errors import DecodeFailure, SchemaDecodeError, SchemaEncodeError
from schemas.models import AvroRecord

MAGIC_BYTE: Final = b"\x00"
HEADER_SIZE: Final = 5
_NOT_FOUND: Final = 404


def subject_for(topic: str) -> str:
    """The registry subject of a topic's values (TopicNameStrategy)."""
    return f"{topic}-value"


def header(schema_id: int) -> bytes:
    return MAGIC_BYTE + schema_id.to_bytes(4, "big")


def read_schema_id(data: bytes, topic: str | None = None) -> int:
    """The schema id from a Confluent-framed message (its first byte is 0)."""
    if len(data) < HEADER_SIZE:
        raise SchemaDecodeError(
            DecodeFailure.TRUNCATED,
            f"{len(data)} bytes is shorter than the {HEADER_SIZE}-byte Confluent header",
            topic,
        )
    return int.from_bytes(data[1:HEADER_SIZE], "big")


class RegistrySchemas:
    """Our catalog as seen through a schema registry: ids to write with, plans to read with."""

    def __init__(self, client: SchemaRegistryClient, catalog: SchemaCatalog) -> None:
        self._client = client
        self._catalog = catalog
        self._headers: dict[tuple[str, type[AvroRecord]], bytes] = {}
        self._plans: dict[int, ReadPlan] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, catalog: SchemaCatalog, **config: Any) -> RegistrySchemas:
        """``mock://…`` gives confluent-kafka's in-memory registry (tests, demos).

        A password in the URL (``https://user:secret@host``) is registered for
        redaction, since registry errors tend to echo the URL.
        """
        register_secrets([urlsplit(url).password])
        return cls(SchemaRegistryClient.new_client({"url": url, **config}), catalog)

    @property
    def client(self) -> SchemaRegistryClient:
        return self._client

    def header_for(self, topic: str, model: type[AvroRecord]) -> bytes:
        """The 5-byte prefix for ``model`` on ``topic``, registering its schema on first use."""
        cached = self._headers.get((topic, model))
        if cached is not None:
            return cached
        with self._lock:
            cached = self._headers.get((topic, model))
            if cached is not None:
                return cached
            version = self._catalog.current_for(model)
            subject = subject_for(topic)
            try:
                schema_id = self._client.register_schema(subject, Schema(version.text, "AVRO"))
            except Exception as exc:
                raise SchemaEncodeError(
                    f"could not register {version.name} under subject {subject}: "
                    + redact(str(exc))
                ) from exc
            prefix = header(schema_id)
            self._headers[(topic, model)] = prefix
            # Our own writes are read back without asking the registry again.
            plan = self._catalog.read_plan(version)
            if plan is not None:
                self._plans.setdefault(schema_id, plan)
            return prefix

    def plan_for(self, schema_id: int, topic: str | None = None) -> ReadPlan:
        plan = self._plans.get(schema_id)
        if plan is None:
            plan = self._fetch(schema_id, topic)
            self._plans[schema_id] = plan
        return plan

    def _fetch(self, schema_id: int, topic: str | None) -> ReadPlan:
        try:
            schema = self._client.get_schema(schema_id)
        except SchemaRegistryError as exc:
            if exc.http_status_code == _NOT_FOUND:
                raise SchemaDecodeError(
                    DecodeFailure.UNKNOWN_SCHEMA,
                    f"schema id {schema_id} is not in the registry",
                    topic,
                ) from exc
            raise self._unavailable(schema_id, exc, topic) from exc
        except Exception as exc:
            raise self._unavailable(schema_id, exc, topic) from exc
        if (schema.schema_type or "AVRO") != "AVRO" or not schema.schema_str:
            raise SchemaDecodeError(
                DecodeFailure.UNKNOWN_SCHEMA,
                f"schema id {schema_id} is a {schema.schema_type} schema, not Avro",
                topic,
            )
        try:
            version = SchemaVersion.from_text(schema.schema_str, f"registry id {schema_id}")
        except SchemaCatalogError as exc:
            raise SchemaDecodeError(DecodeFailure.UNKNOWN_SCHEMA, str(exc), topic) from exc
        plan = self._catalog.read_plan(version)
        if plan is None:
            raise SchemaDecodeError(
                DecodeFailure.UNKNOWN_SCHEMA,
                f"schema id {schema_id} is {version.name}, not a cpqsync record",
                topic,
            )
        return plan

    @staticmethod
    def _unavailable(schema_id: int, exc: Exception, topic: str | None) -> SchemaDecodeError:
        return SchemaDecodeError(
            DecodeFailure.REGISTRY_UNAVAILABLE,
            f"could not fetch schema id {schema_id} from the registry: {redact(str(exc))}",
            topic,
        )
