"""Real-shaped Salesforce change events for tests, built on the captured sample schema."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro

SAMPLE_SCHEMA = Path("/work/shared/spec/salesforce-samples/AccountChangeEvent.avsc")


def account_schema() -> dict[str, Any]:
    return json.loads(SAMPLE_SCHEMA.read_text())


@dataclass(frozen=True)
class StaticSchema:
    definition: dict[str, Any]
    parsed: Any


class DictSchemas:
    """A schema source for the decoder that counts lookups, like GetSchema would."""

    def __init__(self, schemas: dict[str, dict[str, Any]]) -> None:
        self._schemas = schemas
        self.fetches: list[str] = []

    def schema(self, schema_id: str) -> StaticSchema:
        self.fetches.append(schema_id)
        definition = self._schemas[schema_id]
        return StaticSchema(definition, fastavro.parse_schema(definition))


def header(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "entityName": "Account",
        "recordIds": ["001000000000001AAA"],
        "changeType": "UPDATE",
        "changeOrigin": "com/salesforce/api/rest/62.0",
        "transactionKey": "0001-tx",
        "sequenceNumber": 1,
        "commitTimestamp": 1_700_000_000_123,
        "commitNumber": 1234567,
        "commitUser": "005000000000001AAA",
        "nulledFields": [],
        "diffFields": [],
        "changedFields": [],
    }
    base.update(overrides)
    return base


def encode(schema: dict[str, Any], record: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), record)
    return out.getvalue()


def bitmap(*positions: int) -> str:
    """Salesforce's form: upper-case hex of even length."""
    value = 0
    for position in positions:
        value |= 1 << position
    digits = f"{value:X}"
    if len(digits) % 2:
        digits = "0" + digits
    return f"0x{digits}"
