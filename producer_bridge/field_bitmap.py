"""``changedFields``/``nulledFields``/``diffFields`` bitmaps → field names.

Salesforce does not send field names in the change-event header; it sends
bitmaps over the schema's field positions, so names depend on the exact schema
the event was written with. Element 0 is ``0x…``: bit *i* (least significant =
0) marks top-level field *i*. Further elements ``N-0x…`` mark sub-fields of the
compound field at position N, reported as ``Parent.Child`` (``BillingAddress.City``).
Like Salesforce's reference client we report the compound's own name when its
top-level bit is set, and its dotted sub-fields from the ``N-`` elements.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

_CACHE_LIMIT = 4096


class BitmapError(ValueError):
    """A bitmap that does not fit the schema it claims to describe."""


@dataclass(frozen=True)
class FieldLayout:
    """Top-level field names in schema order, and sub-field names of compound fields."""

    names: tuple[str, ...]
    compound: Mapping[int, tuple[str, ...]]
    # Bitmaps repeat (the same fields change again and again): remember their names.
    _cache: dict[tuple[str, ...], tuple[str, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def of(cls, schema: Mapping[str, Any]) -> FieldLayout:
        """Build from a schema definition (JSON), resolving named types defined earlier."""
        named: dict[str, Mapping[str, Any]] = {}
        namespace = str(schema.get("namespace", ""))
        names: list[str] = []
        compound: dict[int, tuple[str, ...]] = {}
        for index, entry in enumerate(schema["fields"]):
            names.append(str(entry["name"]))
            record = _record_in(entry["type"], named, namespace)
            if record is not None and index > 0:
                compound[index] = tuple(str(sub["name"]) for sub in record["fields"])
        return cls(tuple(names), compound)

    def decode(self, entries: Iterable[str]) -> list[str]:
        """Field names for one header bitmap list, in schema order, sub-fields after."""
        key = tuple(entries)
        if not key:
            return []
        cached = self._cache.get(key)
        if cached is None:
            cached = tuple(self._decode(key))
            if len(self._cache) < _CACHE_LIMIT:
                self._cache[key] = cached
        return list(cached)

    def _decode(self, entries: tuple[str, ...]) -> list[str]:
        result: list[str] = []
        for entry in entries:
            if entry.startswith(("0x", "0X")):
                result.extend(self.names[bit] for bit in _bits(entry, len(self.names), entry))
                continue
            parent_text, sep, hex_part = entry.partition("-")
            if not sep or not parent_text.isdigit() or not hex_part.startswith(("0x", "0X")):
                # Not a bitmap: some orgs send diffFields as names already; keep them.
                result.append(entry)
                continue
            parent = int(parent_text)
            children = self.compound.get(parent)
            if children is None:
                raise BitmapError(
                    f"bitmap {entry!r} addresses field {parent}, which is not a compound field "
                    f"of this schema"
                )
            prefix = self.names[parent]
            result.extend(
                f"{prefix}.{children[bit]}" for bit in _bits(hex_part, len(children), entry)
            )
        return result


def _bits(hex_text: str, width: int, entry: str) -> list[int]:
    try:
        value = int(hex_text[2:], 16) if len(hex_text) > 2 else 0
    except ValueError:
        raise BitmapError(f"bitmap {entry!r} is not hexadecimal") from None
    if value.bit_length() > width:
        raise BitmapError(
            f"bitmap {entry!r} marks field {value.bit_length() - 1}, "
            f"but the schema has only {width}"
        )
    return [bit for bit in range(value.bit_length()) if value >> bit & 1]


def _record_in(
    avro_type: Any, named: dict[str, Mapping[str, Any]], namespace: str
) -> Mapping[str, Any] | None:
    """The record type inside a field type (often ``["null", record]``), registering names."""
    if isinstance(avro_type, list):
        found = None
        for branch in avro_type:
            record = _record_in(branch, named, namespace)
            found = found or record
        return found
    if isinstance(avro_type, dict):
        if avro_type.get("type") == "record":
            name = str(avro_type["name"])
            full = name if "." in name else f"{avro_type.get('namespace', namespace)}.{name}"
            named[name] = avro_type
            named[full] = avro_type
            for sub in avro_type.get("fields", []):
                _record_in(sub["type"], named, namespace)
            return avro_type
        if avro_type.get("type") in ("array", "map"):
            _record_in(avro_type.get("items") or avro_type.get("values"), named, namespace)
        return None
    if isinstance(avro_type, str):
        return named.get(avro_type) or named.get(f"{namespace}.{avro_type}")
    return None
