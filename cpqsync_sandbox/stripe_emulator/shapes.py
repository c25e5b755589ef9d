"""Complete emulator objects with every field the installed stripe-python declares.

stripe-python builds typed objects from whatever JSON arrives, but code reading
``price.transform_quantity`` on a field Stripe always sends would fail with an
AttributeError if the emulator left it out. Rather than hand-listing hundreds of
nullable fields, each object is completed from the resource class's own
annotations (and its nested ``_inner_class_types``), so the emulator stays in
step with the library it serves. Fields the emulator models are set by the
resource modules; every other declared field is ``null``, as Stripe sends it
for features not in use.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

from stripe._object_classes import OBJECT_CLASSES

# Present only on deletion stubs in real responses.
_SKIPPED = frozenset({"deleted"})


@cache
def _resource_class(object_name: str) -> type:
    module_name, class_name = OBJECT_CLASSES[object_name]
    cls: type = getattr(importlib.import_module(module_name), class_name)
    return cls


@cache
def _field_names(cls: type) -> tuple[str, ...]:
    names: list[str] = []
    for name, annotation in getattr(cls, "__annotations__", {}).items():
        if name.startswith("_") or name in _SKIPPED or name.isupper():
            continue
        if "ClassVar" in str(annotation):
            continue
        names.append(name)
    return tuple(names)


def _complete(cls: type, data: dict[str, Any]) -> None:
    for name in _field_names(cls):
        data.setdefault(name, None)
    inner: dict[str, type] = getattr(cls, "_inner_class_types", {})
    for name, inner_cls in inner.items():
        value = data.get(name)
        if isinstance(value, dict) and value.get("object") is None:
            if name.endswith("options") or _is_map_field(cls, name):
                for item in value.values():
                    if isinstance(item, dict):
                        _complete(inner_cls, item)
            else:
                _complete(inner_cls, value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    _complete(inner_cls, item)


@cache
def _is_map_field(cls: type, name: str) -> bool:
    """``UntypedStripeObject[X]`` fields are maps of X, not an X themselves."""
    return "UntypedStripeObject[" in str(getattr(cls, "__annotations__", {}).get(name, ""))


def complete(data: dict[str, Any]) -> dict[str, Any]:
    """Fill in missing declared fields (as null) for ``data["object"]``'s class, in place."""
    _complete(_resource_class(str(data["object"])), data)
    return data
