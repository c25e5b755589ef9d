"""Every Salesforce object and field a role relies on, with what names it.

Filters (``sync.filters``) name fields of their object, following lookups by relationship
name (``Account.Name`` on an Order); custom mappings (``mappings.<object>.custom``) name a
root record and a path from it (``Account.Owner.Email``); the writeback upserts Sync Records
by fields of the package's ``Sync_Record__c``. All must exist in the org, which only a
describe can tell; :mod:`cpqsync.app.preflight.salesforce_check` asks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from consumer.writeback.sync_record import (
    COMPOUND_ID,
    LAST_ATTEMPT_AT,
    PRIMARY_ID,
    STATUS,
    SYNC_RECORD,
)
from cpqsync.settings import Settings
from cpqsync.soql import parse_where
from cpqsync.soql.ast import And, Comparison, Condition, FieldPath, InList, Like, Not, Or


@dataclass(frozen=True)
class FieldReference:
    """``setting`` names ``root`` then walks ``path`` (lookups by relationship name, a field);
    ``verb`` says how it uses the field, for the message."""

    setting: str
    root: str
    path: tuple[str, ...]
    verb: str = "names"

    @property
    def text(self) -> str:
        return ".".join((self.root, *self.path))


References = Callable[[Settings], list["FieldReference"]]


def sync_record_references(settings: Settings) -> list[FieldReference]:
    """The Sync_Record__c fields every writeback upsert sets (the package must be installed)."""
    return [
        FieldReference("the writeback", SYNC_RECORD, (field,), verb="writes")
        for field in (COMPOUND_ID, STATUS, LAST_ATTEMPT_AT, PRIMARY_ID)
    ]


def all_references(settings: Settings) -> list[FieldReference]:
    return [*field_references(settings), *sync_record_references(settings)]


def field_references(settings: Settings) -> list[FieldReference]:
    """What the sync's filters and custom mappings name."""
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
