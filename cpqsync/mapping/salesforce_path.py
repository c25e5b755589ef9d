"""Salesforce dot paths (`Account.Owner.Email`): parsing, and reading them from hydrated records.

Hydrated records are shaped like REST query results, where a lookup's relationship name holds
the parent record as a nested dict (``{"Owner": {"Email": ...}}``), so following a path is a
walk through nested dicts. Only to-one paths exist (rule M4): a child relationship
(``{"records": [...]}``) is never walked into.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# An API name: segments of letters/digits/single underscores, joined by at most two "__"
# (namespace prefix and suffix, as in SBQQ__Quote__r).
_SEGMENT = r"[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*"
_API_NAME = re.compile(rf"^{_SEGMENT}(?:__{_SEGMENT}){{0,2}}$")
_MAX_PARENT_LEVELS = 5  # SOQL follows at most five levels of parent relationships.


class MalformedSalesforcePath(ValueError):
    """A source path that cannot name a Salesforce field (rule M5)."""


@dataclass(frozen=True)
class SalesforcePath:
    """``root`` names the record the path starts from; ``fields`` walk from it to the value."""

    root: str
    fields: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> SalesforcePath:
        parts = text.split(".") if isinstance(text, str) else []
        if len(parts) < 2:
            raise MalformedSalesforcePath(
                f"{text!r} is not a Salesforce field path; write Object.Field, "
                "e.g. Account.Phone or Account.Owner.Email"
            )
        for part in parts:
            if not _API_NAME.match(part):
                raise MalformedSalesforcePath(f"{text!r}: {part!r} is not a Salesforce API name")
        if len(parts) - 2 > _MAX_PARENT_LEVELS:
            raise MalformedSalesforcePath(
                f"{text!r} follows more than {_MAX_PARENT_LEVELS} lookups, beyond what SOQL allows"
            )
        return cls(parts[0], tuple(parts[1:]))

    def __str__(self) -> str:
        return ".".join((self.root, *self.fields))


def read(record: Any, fields: tuple[str, ...]) -> Any:
    """The value at ``fields`` in a REST-shaped record, or None where a lookup is empty."""
    current = record
    for name in fields:
        if not isinstance(current, dict):
            return None
        current = current[name] if name in current else _get_ignoring_case(current, name)
        if isinstance(current, dict) and "records" in current and "attributes" not in current:
            return None
    return current


def _get_ignoring_case(record: dict[str, Any], name: str) -> Any:
    # Salesforce API names are case-insensitive; a config may not match the REST casing.
    lowered = name.lower()
    for key, value in record.items():
        if key.lower() == lowered:
            return value
    return None
