"""One stored record rendered as the sObject resource returns it."""

from __future__ import annotations

from typing import Any

from cpqsync_sandbox.org.errors import invalid_field
from cpqsync_sandbox.org.schema import ObjectDef
from cpqsync_sandbox.org.store import Record
from cpqsync_sandbox.org.values import compound_json, to_json


def attributes(obj: ObjectDef, record_id: str, version: str) -> dict[str, str]:
    return {"type": obj.name, "url": f"/services/data/v{version}/sobjects/{obj.name}/{record_id}"}


def render(obj: ObjectDef, rec: Record, version: str, fields: str | None = None) -> dict[str, Any]:
    """Every field (or the comma-separated ``fields``), compounds as nested objects."""
    wanted = list(obj.fields.values())
    if fields:
        wanted = []
        for name in (n.strip() for n in fields.split(",") if n.strip()):
            f = obj.field(name)
            if f is None:
                raise invalid_field(obj.name, name)
            wanted.append(f)
    out: dict[str, Any] = {"attributes": attributes(obj, rec["Id"], version)}
    for f in wanted:
        if f.is_compound:
            out[f.name] = compound_json(f.components, rec)
        else:
            out[f.name] = to_json(rec.get(f.name))
    return out
