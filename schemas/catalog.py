"""The bundled Avro schemas: the current version of each record and every released one.

Readers must decode anything an older release wrote, so the catalog indexes the
current schemas *and* ``avro/history/<Name>/v<N>.avsc`` by fingerprint. Loading
also checks that each current schema and its model have the same fields, so a
model edited without its schema (or the reverse) fails at import, not in
production.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastavro import parse_schema
from fastavro.schema import (
    SchemaParseException,
    UnknownType,
    fingerprint,
    to_parsing_canonical_form,
)

from schemas.models import RECORD_TYPES, AvroRecord

AVRO_DIR = Path(__file__).parent / "avro"
_HISTORY_FILE = re.compile(r"^v(\d+)\.avsc$")


class SchemaCatalogError(Exception):
    """A bundled schema is missing, unreadable, or disagrees with its model."""


@dataclass(frozen=True)
class SchemaVersion:
    """One version of one record schema, ready for fastavro."""

    name: str
    label: str
    text: str
    parsed: Any
    canonical: str
    fingerprint: bytes

    @classmethod
    def from_text(cls, text: str, label: str) -> SchemaVersion:
        try:
            declared = json.loads(text)
            parsed = parse_schema(declared, named_schemas={})
        except (SchemaParseException, UnknownType, ValueError, TypeError, KeyError) as exc:
            raise SchemaCatalogError(f"schema {label} is not valid Avro: {exc}") from exc
        if not isinstance(parsed, dict) or parsed.get("type") != "record":
            raise SchemaCatalogError(f"schema {label} is not a record schema")
        canonical = to_parsing_canonical_form(declared)
        return cls(
            name=parsed["name"],
            label=label,
            text=text,
            parsed=parsed,
            canonical=canonical,
            # fastavro gives the CRC-64-AVRO fingerprint little-endian, as single-object
            # encoding wants it.
            fingerprint=bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO")),
        )

    @classmethod
    def from_file(cls, path: Path, label: str) -> SchemaVersion:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SchemaCatalogError(f"cannot read schema {path}: {exc}") from exc
        return cls.from_text(text, f"{label} ({path})")


@dataclass(frozen=True)
class ReadPlan:
    """How to read a body written with one writer schema into the current model."""

    writer: SchemaVersion
    # None when the writer schema is the current one: fastavro then skips resolution.
    reader: Any
    model: type[AvroRecord]


class SchemaCatalog:
    """Current and historical schemas, looked up by record type, name or fingerprint."""

    def __init__(
        self,
        current: Iterable[SchemaVersion],
        history: Iterable[SchemaVersion] = (),
        models: Iterable[type[AvroRecord]] = RECORD_TYPES,
    ) -> None:
        self._models: dict[str, type[AvroRecord]] = {model.avro_name: model for model in models}
        self._current: dict[str, SchemaVersion] = {}
        for version in current:
            model = self._models.get(version.name)
            if model is None:
                raise SchemaCatalogError(f"schema {version.label} has no model class")
            _check_fields_match(version, model)
            self._current[version.name] = version
        missing = set(self._models) - set(self._current)
        if missing:
            raise SchemaCatalogError(f"models without a current schema: {sorted(missing)}")
        self._history: dict[str, list[SchemaVersion]] = {name: [] for name in self._current}
        self._by_fingerprint: dict[bytes, SchemaVersion] = {}
        for version in history:
            if version.name not in self._current:
                raise SchemaCatalogError(
                    f"historical schema {version.label} names {version.name}, "
                    "which has no current schema"
                )
            self._history[version.name].append(version)
            self._by_fingerprint[version.fingerprint] = version
        # Current versions win when a released version is identical to the current one.
        for version in self._current.values():
            self._by_fingerprint[version.fingerprint] = version

    @classmethod
    def load(cls, directory: Path = AVRO_DIR) -> SchemaCatalog:
        """Read ``<Name>.avsc`` files and ``history/<Name>/v<N>.avsc`` below ``directory``."""
        current = [
            SchemaVersion.from_file(path, f"current {path.stem}")
            for path in sorted(directory.glob("*.avsc"))
        ]
        history: list[SchemaVersion] = []
        history_dir = directory / "history"
        if history_dir.is_dir():
            for record_dir in sorted(p for p in history_dir.iterdir() if p.is_dir()):
                history.extend(_load_history(record_dir))
        return cls(current, history)

    @property
    def names(self) -> list[str]:
        return sorted(self._current)

    def current(self, name: str) -> SchemaVersion:
        try:
            return self._current[name]
        except KeyError:
            raise KeyError(f"no current schema named {name!r}") from None

    def current_for(self, model: type[AvroRecord]) -> SchemaVersion:
        return self.current(model.avro_name)

    def history(self, name: str) -> list[SchemaVersion]:
        """Released versions of ``name``, oldest first."""
        return list(self._history.get(name, []))

    def model_for(self, name: str) -> type[AvroRecord] | None:
        return self._models.get(name)

    def by_fingerprint(self, fingerprint: bytes) -> SchemaVersion | None:
        return self._by_fingerprint.get(fingerprint)

    def fingerprints(self) -> Mapping[bytes, SchemaVersion]:
        return dict(self._by_fingerprint)

    def read_plan(self, writer: SchemaVersion) -> ReadPlan | None:
        """How to read data written with ``writer``; None when it is not one of our records."""
        model = self._models.get(writer.name)
        current = self._current.get(writer.name)
        if model is None or current is None:
            return None
        reader = None if writer.canonical == current.canonical else current.parsed
        return ReadPlan(writer=writer, reader=reader, model=model)


@functools.cache
def bundled_catalog() -> SchemaCatalog:
    """The schemas shipped in this package (loaded once per process)."""
    return SchemaCatalog.load(AVRO_DIR)


def _load_history(record_dir: Path) -> list[SchemaVersion]:
    numbered: list[tuple[int, Path]] = []
    for path in record_dir.iterdir():
        match = _HISTORY_FILE.match(path.name)
        if match is None:
            raise SchemaCatalogError(f"unexpected file in schema history: {path} (want v<N>.avsc)")
        numbered.append((int(match.group(1)), path))
    versions = []
    for number, path in sorted(numbered):
        version = SchemaVersion.from_file(path, f"{record_dir.name} v{number}")
        if version.name.rsplit(".", 1)[-1] != record_dir.name:
            raise SchemaCatalogError(f"{path} declares {version.name}, not {record_dir.name}")
        versions.append(version)
    return versions


def _check_fields_match(version: SchemaVersion, model: type[AvroRecord]) -> None:
    schema_fields = [field["name"] for field in version.parsed["fields"]]
    model_fields = list(model.model_fields)
    if set(schema_fields) != set(model_fields):
        only_schema = sorted(set(schema_fields) - set(model_fields))
        only_model = sorted(set(model_fields) - set(schema_fields))
        raise SchemaCatalogError(
            f"schema {version.label} and model {model.__name__} disagree: "
            f"only in schema {only_schema}, only in model {only_model}"
        )
