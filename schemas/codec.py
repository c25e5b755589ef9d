"""Records to Kafka message values and back, in one of two standard Avro framings.

Without a schema registry, values use Avro single-object encoding (``C3 01`` +
CRC-64-AVRO fingerprint + body), resolved against the bundled schemas and all
their released versions. With ``kafka.schema_registry_url`` set, values use
Confluent framing (``00`` + 4-byte schema id + body). ``decode`` recognises both
framings whatever is configured, so switching a deployment to a registry does
not strand the messages already on its topics.

The per-record work is fastavro's schemaless writer/reader on pre-parsed schemas
plus a dictionary lookup for the framing; anything that can go wrong while
decoding surfaces as one ``SchemaDecodeError`` whose ``kind`` says what it was,
because the consumer must route bad bytes to the dead-letter topic rather than
crash on whatever exception a library happened to raise.
"""

from __future__ import annotations

from collections.abc import Mapping
from io import BytesIO
from typing import Any, Protocol, TypeVar

from confluent_kafka.schema_registry import SchemaRegistryClient
from fastavro import schemaless_reader, schemaless_writer
from pydantic import ValidationError

from schemas import registry, single_object
from schemas.catalog import ReadPlan, SchemaCatalog, bundled_catalog
from schemas.errors import DecodeFailure, SchemaDecodeError, SchemaEncodeError
from schemas.models import AvroRecord


class RegistrySetting(Protocol):
    """What ``Codec.from_settings`` reads (``kafka.schema_registry_url`` of the settings)."""

    @property
    def schema_registry_url(self) -> str | None: ...


__all__ = ["Codec", "DecodeFailure", "SchemaDecodeError", "SchemaEncodeError"]

RecordT = TypeVar("RecordT", bound=AvroRecord)

_SINGLE_OBJECT_FIRST_BYTE = single_object.MARKER[0]
_CONFLUENT_FIRST_BYTE = registry.MAGIC_BYTE[0]


class Codec:
    """Encodes models to message values and decodes values to the current model type.

    Thread-safe: caches only grow, and a registry registration happens once per
    (topic, record type) under a lock.
    """

    def __init__(
        self,
        registry_url: str | None = None,
        *,
        registry_client: SchemaRegistryClient | None = None,
        registry_config: Mapping[str, Any] | None = None,
        catalog: SchemaCatalog | None = None,
    ) -> None:
        """``registry_config`` adds client properties (``basic.auth.user.info``,
        ``ssl.ca.location``, ...) to the URL. ``registry_client`` wins over both; pass
        one to share a registry (confluent-kafka's ``mock://`` registry keeps its
        schemas per client)."""
        self._catalog = catalog or bundled_catalog()
        self._registry: registry.RegistrySchemas | None
        if registry_client is not None:
            self._registry = registry.RegistrySchemas(registry_client, self._catalog)
        elif registry_url:
            self._registry = registry.RegistrySchemas.from_url(
                registry_url, self._catalog, **(registry_config or {})
            )
        else:
            self._registry = None
        # Single-object framing: record type -> (header, parsed schema), and fingerprint -> plan.
        self._single_writers: dict[type[AvroRecord], tuple[bytes, Any]] = {}
        self._plans: dict[bytes, ReadPlan] = {}
        for name in self._catalog.names:
            current = self._catalog.current(name)
            model = self._catalog.model_for(name)
            assert model is not None  # the catalog refuses schemas without models
            self._single_writers[model] = (
                single_object.header(current.fingerprint),
                current.parsed,
            )
        for fingerprint, version in self._catalog.fingerprints().items():
            plan = self._catalog.read_plan(version)
            if plan is not None:
                self._plans[fingerprint] = plan

    @classmethod
    def from_settings(cls, settings: RegistrySetting) -> Codec:
        return cls(settings.schema_registry_url)

    @property
    def uses_registry(self) -> bool:
        """True when ``encode`` writes Confluent framing."""
        return self._registry is not None

    @property
    def catalog(self) -> SchemaCatalog:
        return self._catalog

    def encode(self, record: AvroRecord, topic: str) -> bytes:
        """The message value for ``record`` on ``topic``.

        Raises ``SchemaEncodeError`` when the record's content breaks its schema
        (only possible by mutating a list or dict inside a model) or the registry
        cannot register the schema; ``TypeError`` for an object that is not a record.
        """
        try:
            prefix, parsed = self._single_writers[type(record)]
        except KeyError:
            raise TypeError(f"{type(record).__name__} is not a cpqsync Avro record") from None
        if self._registry is not None:
            prefix = self._registry.header_for(topic, type(record))
        out = BytesIO()
        out.write(prefix)
        try:
            schemaless_writer(out, parsed, record.to_avro())
        except (ValueError, TypeError, AttributeError, KeyError, OverflowError) as exc:
            raise SchemaEncodeError(
                f"{type(record).__name__} does not fit its Avro schema: {exc}"
            ) from exc
        return out.getvalue()

    def decode(self, data: bytes | None, topic: str) -> AvroRecord:
        """The record in a message value, as the current model of its record type.

        Raises ``SchemaDecodeError`` and nothing else; ``topic`` only names the
        source in the error message.
        """
        if not data:
            raise SchemaDecodeError(DecodeFailure.EMPTY, "the value is empty", topic)
        if not isinstance(data, bytes):
            data = bytes(data)
        first = data[0]
        if first == _SINGLE_OBJECT_FIRST_BYTE:
            fingerprint = single_object.read_fingerprint(data, topic)
            plan = self._plans.get(fingerprint)
            if plan is None:
                raise SchemaDecodeError(
                    DecodeFailure.UNKNOWN_SCHEMA,
                    f"fingerprint {fingerprint.hex()} matches no bundled schema or earlier version",
                    topic,
                )
            return _read_body(data, single_object.HEADER_SIZE, plan, topic)
        if first == _CONFLUENT_FIRST_BYTE:
            schema_id = registry.read_schema_id(data, topic)
            if self._registry is None:
                raise SchemaDecodeError(
                    DecodeFailure.UNKNOWN_SCHEMA,
                    f"Confluent-framed value (schema id {schema_id}) but no schema registry "
                    "is configured (kafka.schema_registry_url)",
                    topic,
                )
            plan = self._registry.plan_for(schema_id, topic)
            return _read_body(data, registry.HEADER_SIZE, plan, topic)
        raise SchemaDecodeError(
            DecodeFailure.WRONG_MARKER,
            f"first byte {first:#04x} is neither the single-object marker c3 nor the "
            "Confluent magic byte 00",
            topic,
        )

    def decode_as(self, data: bytes | None, topic: str, model: type[RecordT]) -> RecordT:
        """``decode``, insisting on one record type (a topic carries only one).

        A value of another record type is reported as ``UNKNOWN_SCHEMA``: the
        schema is valid, just not one this topic is meant to carry.
        """
        record = self.decode(data, topic)
        if not isinstance(record, model):
            raise SchemaDecodeError(
                DecodeFailure.UNKNOWN_SCHEMA,
                f"expected a {model.avro_name}, found a {record.avro_name}",
                topic,
            )
        return record


def _read_body(data: bytes, offset: int, plan: ReadPlan, topic: str) -> AvroRecord:
    body = BytesIO(data)
    body.seek(offset)
    try:
        fields = schemaless_reader(body, plan.writer.parsed, plan.reader)
    except Exception as exc:
        # fastavro signals bad input with whatever its parsing hits (EOFError,
        # IndexError on a short read, ValueError, UnicodeDecodeError, ...), so the
        # kind is told by where the reader stopped: wanting more than there was
        # means the body was cut short.
        if isinstance(exc, EOFError) or body.tell() >= len(data):
            raise SchemaDecodeError(
                DecodeFailure.TRUNCATED,
                f"the {plan.writer.name} body ends early ({len(data)} bytes in all)",
                topic,
            ) from exc
        raise SchemaDecodeError(
            DecodeFailure.MALFORMED,
            f"the {plan.writer.name} body is not valid Avro: {type(exc).__name__}: {exc}",
            topic,
        ) from exc
    trailing = len(data) - body.tell()
    if trailing:
        raise SchemaDecodeError(
            DecodeFailure.MALFORMED,
            f"{trailing} unexpected bytes after the {plan.writer.name} body",
            topic,
        )
    if not isinstance(fields, dict):
        raise SchemaDecodeError(
            DecodeFailure.MALFORMED, f"the {plan.writer.name} body is not a record", topic
        )
    try:
        return plan.model.from_avro(fields)
    except ValidationError as exc:
        raise SchemaDecodeError(
            DecodeFailure.MALFORMED,
            f"the {plan.writer.name} body holds invalid values: {exc}",
            topic,
        ) from exc
