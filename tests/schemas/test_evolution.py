"""Schema evolution: current schemas read everything earlier releases wrote."""

from __future__ import annotations

import copy
import json
import shutil
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_writer

from schemas.catalog import AVRO_DIR, SchemaCatalog, SchemaCatalogError, SchemaVersion
from schemas.codec import Codec, DecodeFailure, SchemaDecodeError
from schemas.evolution import check_backward, check_catalog
from schemas.models import ChangeEvent
from tests.schemas.samples import order_change_event


def declared(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((AVRO_DIR / f"{name}.avsc").read_text())
    return loaded


def version(schema: dict[str, Any], label: str) -> SchemaVersion:
    return SchemaVersion.from_text(json.dumps(schema), label)


def field(schema: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(f for f in schema["fields"] if f["name"] == name)
    return found


def test_every_current_schema_reads_every_released_version() -> None:
    catalog = SchemaCatalog.load()
    problems = check_catalog(catalog)
    assert not problems, "\n".join(map(str, problems))


def test_every_record_has_a_released_version() -> None:
    catalog = SchemaCatalog.load()
    assert all(catalog.history(name) for name in catalog.names)


def incompatible_changes() -> list[tuple[str, str, dict[str, Any], str]]:
    """(description, record, new current schema, text the report must contain)."""
    added = declared("ChangeEvent")
    added["fields"].append({"name": "region", "type": "string"})
    retyped = declared("ChangeEvent")
    field(retyped, "object_type")["type"] = "int"
    dropped_symbol = declared("ChangeEvent")
    field(dropped_symbol, "change_type")["type"]["symbols"].remove("UPDATE")
    narrowed = declared("SyncResult")
    field(narrowed, "source_offsets")["type"]["items"]["fields"][2]["type"] = "int"
    dropped_branch = declared("BridgeCheckpoint")
    field(dropped_branch, "commit_timestamp")["type"] = {
        "type": "long",
        "logicalType": "timestamp-millis",
    }
    del field(dropped_branch, "commit_timestamp")["default"]
    return [
        ("new field without default", "ChangeEvent", added, "region"),
        ("field type changed", "ChangeEvent", retyped, "string is not int"),
        ("enum symbol removed", "ChangeEvent", dropped_symbol, "UPDATE"),
        ("nested long narrowed to int", "SyncResult", narrowed, "long is not int"),
        ("union branch removed", "BridgeCheckpoint", dropped_branch, "null"),
    ]


@pytest.mark.parametrize(
    ("record", "changed", "mentions"),
    [case[1:] for case in incompatible_changes()],
    ids=[case[0] for case in incompatible_changes()],
)
def test_incompatible_change_is_reported_clearly(
    record: str, changed: dict[str, Any], mentions: str
) -> None:
    released = version(declared(record), f"{record} v1")

    problem = check_backward(version(changed, "candidate"), released)

    assert problem is not None
    message = str(problem)
    assert f"cpqsync.{record}" in message and f"{record} v1" in message
    assert mentions in message
    assert "default" in message  # tells the author how to fix it


def test_compatible_changes_pass() -> None:
    released = version(declared("ChangeEvent"), "ChangeEvent v1")
    evolved = declared("ChangeEvent")
    evolved["fields"].append({"name": "region", "type": ["null", "string"], "default": None})
    field(evolved, "sequence_number")["type"] = ["null", "long"]
    field(evolved, "change_type")["type"]["symbols"].append("MERGE")
    evolved["fields"] = [f for f in evolved["fields"] if f["name"] != "commit_user"]

    assert check_backward(version(evolved, "candidate"), released) is None


def test_incompatible_current_schema_fails_the_catalog_check(tmp_path: Path) -> None:
    avro_dir = tmp_path / "avro"
    shutil.copytree(AVRO_DIR, avro_dir)
    schema = declared("SyncRequest")
    field(schema, "reason")["type"] = "string"  # no longer nullable: v1's nulls are unreadable
    del field(schema, "reason")["default"]
    (avro_dir / "SyncRequest.avsc").write_text(json.dumps(schema))

    problems = check_catalog(SchemaCatalog.load(avro_dir))

    assert [problem.record for problem in problems] == ["cpqsync.SyncRequest"]
    assert "SyncRequest v1" in str(problems[0])


def test_codec_reads_values_written_by_an_older_release(tmp_path: Path) -> None:
    """An older ChangeEvent without channel/org_id decodes into today's model."""
    old = declared("ChangeEvent")
    old["fields"] = [f for f in old["fields"] if f["name"] not in ("channel", "org_id")]
    avro_dir = tmp_path / "avro"
    shutil.copytree(AVRO_DIR, avro_dir)
    (avro_dir / "history" / "ChangeEvent" / "v0.avsc").write_text(json.dumps(old))
    old_version = version(old, "v0")
    event = order_change_event()
    fields = {k: v for k, v in event.to_avro().items() if k not in ("channel", "org_id")}
    body = BytesIO()
    schemaless_writer(body, parse_schema(copy.deepcopy(old)), fields)
    value = b"\xc3\x01" + old_version.fingerprint + body.getvalue()

    decoded = Codec(catalog=SchemaCatalog.load(avro_dir)).decode(value, "t")

    assert isinstance(decoded, ChangeEvent)
    assert decoded == event.model_copy(update={"channel": None, "org_id": None})
    # Without the released version in its catalog the same bytes are unknown.
    with pytest.raises(SchemaDecodeError) as caught:
        Codec().decode(value, "t")
    assert caught.value.kind is DecodeFailure.UNKNOWN_SCHEMA


def test_model_and_schema_that_disagree_fail_at_load(tmp_path: Path) -> None:
    avro_dir = tmp_path / "avro"
    shutil.copytree(AVRO_DIR, avro_dir)
    schema = declared("SyncRequest")
    schema["fields"] = [f for f in schema["fields"] if f["name"] != "reason"]
    (avro_dir / "SyncRequest.avsc").write_text(json.dumps(schema))

    with pytest.raises(SchemaCatalogError, match=r"only in model \['reason'\]"):
        SchemaCatalog.load(avro_dir)


def test_misnamed_history_file_fails_at_load(tmp_path: Path) -> None:
    avro_dir = tmp_path / "avro"
    shutil.copytree(AVRO_DIR, avro_dir)
    shutil.copy(AVRO_DIR / "SyncRequest.avsc", avro_dir / "history" / "ChangeEvent" / "v7.avsc")

    with pytest.raises(SchemaCatalogError, match=r"declares cpqsync\.SyncRequest"):
        SchemaCatalog.load(avro_dir)
