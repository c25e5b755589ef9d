"""Applies the mapping layers to one Stripe object's parameters, in the spec's precedence (M3).

The planner builds the automatic and required mappings (M1, M2) itself; this module lays the
field defaults over them and then the custom mappings over both, converts each custom value to
its parameter's type, and checks the metadata limits on the result. It reports which paths the
user's mappings set, because some rules step aside when a mapping supplies a value (P5: no
per-period division when a custom mapping gives the price amount; M3: a phase `duration`
replaces the quote's term).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from consumer.sync.mapping.data_error import DataError
from cpqsync.mapping.coercion import CoercionError
from cpqsync.mapping.config import ObjectMapping
from cpqsync.mapping.field_values import coerce_field
from cpqsync.mapping.metadata_limits import metadata_problems
from cpqsync.mapping.salesforce_path import read
from cpqsync.mapping.stripe_schema import MAPPABLE_OBJECTS, leaf_type


class Evaluated(NamedTuple):
    """The parameters and which paths the user's mappings set. A NamedTuple: several are made
    per order line, and a tuple builds several times faster than a frozen dataclass."""

    params: dict[str, Any]
    from_defaults: frozenset[str]
    from_custom: frozenset[str]

    def mapped(self, path: str) -> bool:
        """Whether a default or custom mapping set ``path``."""
        return path in self.from_defaults or path in self.from_custom


@dataclass(frozen=True)
class _Compiled:
    defaults: tuple[tuple[tuple[str, ...], str, Any], ...]
    custom: tuple[tuple[tuple[str, ...], str, str, tuple[str, ...], Any], ...]
    # Our own metadata keys and values are short ids; only mapped metadata can break limits.
    touches_metadata: bool


_NOTHING: frozenset[str] = frozenset()
_compiled_cache: dict[int, tuple[ObjectMapping, _Compiled]] = {}


def _compile(mapping: ObjectMapping) -> _Compiled:
    # Mappings are immutable once loaded; compiling once per mapping object keeps the
    # per-record work to dictionary reads.
    hit = _compiled_cache.get(id(mapping))
    if hit is not None and hit[0] is mapping:
        return hit[1]
    typed_dict = MAPPABLE_OBJECTS[mapping.stripe_object]
    label = mapping.stripe_object.replace("_", " ")
    defaults = tuple(
        (entry.path, key, copy.deepcopy(entry.value)) for key, entry in mapping.defaults.items()
    )
    custom = []
    for key, entry in mapping.custom.items():
        path = entry.path
        target: Any = (
            str
            if path[0] == "metadata" and len(path) == 2
            else leaf_type(typed_dict, path, label=label)
        )
        source = entry.salesforce_path
        custom.append((path, key, source.root, source.fields, target))
    touches_metadata = any(path[0] == "metadata" for path, *_ in (*defaults, *custom))
    compiled = _Compiled(defaults, tuple(custom), touches_metadata)
    _compiled_cache[id(mapping)] = (mapping, compiled)
    return compiled


def set_path(params: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    """Set a dot path, creating (or replacing non-dict) intermediate objects."""
    current = params
    for part in path[:-1]:
        child = current.get(part)
        if not isinstance(child, dict):
            child = {}
            current[part] = child
        current = child
    current[path[-1]] = value


def apply_mapping(
    automatic: dict[str, Any],
    mapping: ObjectMapping,
    sources: Mapping[str, Any],
    *,
    label: str,
) -> Evaluated:
    """``automatic`` with defaults then custom mappings laid over it; ``automatic`` is consumed.

    ``sources`` holds the Salesforce records by the root names a custom path may start from.
    """
    if not mapping.defaults and not mapping.custom:
        return Evaluated(automatic, _NOTHING, _NOTHING)
    compiled = _compile(mapping)
    params = automatic
    from_defaults: list[str] = []
    for path, key, value in compiled.defaults:
        set_path(params, path, copy.deepcopy(value) if isinstance(value, dict | list) else value)
        from_defaults.append(key)
    from_custom: list[str] = []
    for path, key, root, fields, target in compiled.custom:
        raw = read(sources.get(root), fields)
        if raw is None or raw == "":
            continue
        try:
            value = coerce_field(raw, target, path)
        except CoercionError as exc:
            source = ".".join((root, *fields))
            if exc.rule is not None:  # the rule's own wording first (section 6a)
                raise DataError(
                    exc.rule, f"{exc} (custom mapping {key} <- {source} on the Stripe {label})"
                ) from None
            raise DataError(
                "M4", f"Custom mapping {key} <- {source} on the Stripe {label}: {exc}"
            ) from None
        set_path(params, path, value)
        from_custom.append(key)
    metadata = params.get("metadata")
    if compiled.touches_metadata and isinstance(metadata, dict):
        found = metadata_problems(metadata, label=label)
        if found:
            raise DataError("M4", "; ".join(found))
    return Evaluated(params, frozenset(from_defaults), frozenset(from_custom))
