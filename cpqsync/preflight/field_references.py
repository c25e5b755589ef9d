"""Every Salesforce object and field the configuration names, with the setting that names it.

Filters (``sync.filters``) name fields of their object, following lookups by relationship
name (``Account.Name`` on an Order); custom mappings (``mappings.<object>.custom``) name a
root record and a path from it (``Account.Owner.Email``). Both must exist in the org, which
only a describe can tell; :mod:`cpqsync.preflight.salesforce_check` asks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from cpqsync.settings import Settings
from cpqsync.soql import parse_where
from cpqsync.soql.ast import And, Comparison, Condition, FieldPath, InList, Like, Not, Or


@dataclass(frozen=True)
class FieldReference:
    """``setting`` names ``root`` then walks ``path`` (lookups by relationship name, a field)."""

    setting: str
    root: str
    path: tuple[str, ...]

    @property
    def text(self) -> str:
        return ".".join((self.root, *self.path))


def field_references(settings: Settings) -> list[FieldReference]:
    found: list[FieldReference] = []
    for sobject, condition in sorted(settings.sync.filters.items()):
        for field in _fields(parse_where(condition)):
            found.append(FieldReference(f"sync.filters.{sobject}", sobject, field.parts))
    mappings = settings.mappings
    for stripe_object in type(mappings).model_fields:
        for key, custom in sorted(mappings.for_object(stripe_object).custom.items()):
            source = custom.salesforce_path
            found.append(
                FieldReference(f"mappings.{stripe_object}.custom.{key}", source.root, source.fields)
            )
    return found


def _fields(condition: Condition) -> Iterator[FieldPath]:
    if isinstance(condition, Comparison | InList | Like):
        yield condition.field
    elif isinstance(condition, And | Or):
        for item in condition.items:
            yield from _fields(item)
    elif isinstance(condition, Not):
        yield from _fields(condition.item)
