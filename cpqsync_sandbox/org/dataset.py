"""Seed the org from a YAML/JSON dataset.

Format (see ``cpqsync_sandbox/datasets/cpq_demo.yaml``)::

    version: 1
    records:            # object name -> records, created in file order
      Account:
        - _ref: acme     # a name other records use as "@acme" in place of the id
          Name: Acme Corp
      Order:
        - _ref: order_no_quote
          _expected_error: "There's no CPQ quote associated with this order"
          _activate: true  # activate after the order's items exist
          AccountId: "@acme"

Keys starting with ``_`` are dataset metadata, never fields. ``@standard_pricebook`` names the
org's Standard Price Book, which every org has. ``$today``, ``$today+30`` and ``$today-7``
(days, UTC) keep a shipped dataset's dates current, so quotes don't turn into backdated orders
as the file ages. ``_expected_error`` is text the connector's error message for that record
must contain (ids it names are not known when the file is written). Records go through the
same validation as API DML, so a dataset cannot hold data a real org would reject.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from cpqsync_sandbox.org.errors import OrgError
from cpqsync_sandbox.org.schema import object_def
from cpqsync_sandbox.org.store import OrgStore

STANDARD_PRICEBOOK_REF = "standard_pricebook"


class DatasetError(ValueError):
    """The dataset cannot be loaded; the message names the record and the reason."""


@dataclass
class LoadedDataset:
    """What loading produced: ids by ``_ref``, and the documented outcome of bad records."""

    refs: dict[str, str] = field(default_factory=dict)
    # record id -> the exact message the connector must report for it (the demo checks these)
    expected_errors: dict[str, str] = field(default_factory=dict)
    created: int = 0

    def id(self, ref: str) -> str:
        try:
            return self.refs[ref]
        except KeyError:
            raise KeyError(f"no record with _ref {ref!r} in the dataset") from None


def read_dataset(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path}: not valid YAML/JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("records"), dict):
        raise DatasetError(f"{path}: expected a mapping with a 'records' mapping")
    return data


def load_dataset(store: OrgStore, data: dict[str, Any], loaded: LoadedDataset) -> LoadedDataset:
    """Create every record of ``data`` in ``store``; ``loaded.refs`` may hold refs already."""
    to_activate: list[str] = []
    for object_name, records in data["records"].items():
        obj = object_def(str(object_name))
        if obj is None:
            raise DatasetError(f"unknown object {object_name!r} in dataset")
        if not isinstance(records, list):
            raise DatasetError(f"{object_name}: expected a list of records")
        for index, entry in enumerate(records):
            if not isinstance(entry, dict):
                raise DatasetError(f"{object_name}[{index}]: expected a mapping")
            label = f"{object_name}[{index}]" + (f" ({entry['_ref']})" if "_ref" in entry else "")
            values = {
                k: _resolve(v, loaded, label) for k, v in entry.items() if not k.startswith("_")
            }
            try:
                record_id = store.create(obj.name, values)
            except OrgError as exc:
                raise DatasetError(f"{label}: {exc.error_code}: {exc.message}") from None
            loaded.created += 1
            if "_ref" in entry:
                ref = str(entry["_ref"])
                if ref in loaded.refs:
                    raise DatasetError(f"{label}: _ref {ref!r} used twice")
                loaded.refs[ref] = record_id
            if "_expected_error" in entry:
                loaded.expected_errors[record_id] = str(entry["_expected_error"])
            if entry.get("_activate"):
                to_activate.append(record_id)
    for order_id in to_activate:
        store.activate_order(order_id)
    return loaded


_RELATIVE_DATE = re.compile(r"\$today(?:([+-])(\d+))?")


def _resolve(value: Any, loaded: LoadedDataset, label: str) -> Any:
    if isinstance(value, str) and (match := _RELATIVE_DATE.fullmatch(value)):
        days = int(match.group(2) or 0) * (-1 if match.group(1) == "-" else 1)
        return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()
    if isinstance(value, str) and value.startswith("@"):
        ref = value[1:]
        if ref not in loaded.refs:
            raise DatasetError(f"{label}: reference {value!r} names no earlier record")
        return loaded.refs[ref]
    return value
