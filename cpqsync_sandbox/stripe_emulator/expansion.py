"""``expand[]``: replace id references with the objects they name.

Stripe expands by field path (``subscription``, ``data.product``,
``phases.items.price`` is not allowed but ``latest_invoice`` is); the emulator
resolves a reference through the field's name, since product ids are chosen by
callers and carry no prefix to go by.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cpqsync_sandbox.stripe_emulator.errors import invalid
from cpqsync_sandbox.stripe_emulator.store import Store

_FIELD_KINDS = {
    "customer": "customer",
    "product": "product",
    "price": "price",
    "default_price": "price",
    "subscription": "subscription",
    "released_subscription": "subscription",
    "schedule": "subscription_schedule",
    "latest_invoice": "invoice",
    "invoice": "invoice",
    "test_clock": "test_helpers.test_clock",
    "coupon": "coupon",
    "discount": "discount",
}


Copier = Callable[[dict[str, Any]], dict[str, Any]]


def expand(obj: dict[str, Any], paths: list[str], store: Store, copier: Copier) -> dict[str, Any]:
    """Expand ``paths`` in ``obj`` (a response copy, changed in place); ``copier`` makes the
    response copy of each object put in."""
    result = obj
    for path in paths:
        parts = path.split(".")
        if len(parts) > 4:
            raise invalid(
                f"You cannot expand more than 4 levels of a property. Property: {path}", "expand"
            )
        _expand_path(result, parts, store, path, copier)
    return result


def _expand_path(node: Any, parts: list[str], store: Store, path: str, copier: Copier) -> None:
    if isinstance(node, list):
        for item in node:
            _expand_path(item, parts, store, path, copier)
        return
    if not isinstance(node, dict):
        return
    head, rest = parts[0], parts[1:]
    if node.get("object") == "list" and head == "data":
        _expand_path(node["data"], rest, store, path, copier)
        return
    if head not in node:
        raise invalid(
            f"This property cannot be expanded ({path}). You may want to try expanding "
            "'data.{path}' instead.".replace("{path}", path)
            if node.get("object") == "list"
            else f"This property cannot be expanded ({path}).",
            "expand",
        )
    value = node[head]
    if isinstance(value, str) and head in _FIELD_KINDS:
        found = store.get(_FIELD_KINDS[head], value)
        if found is None:
            found = store.deleted[_FIELD_KINDS[head]].get(value)
        if found is not None:
            node[head] = copier(found)
            value = node[head]
    elif isinstance(value, str):
        raise invalid(f"This property cannot be expanded ({path}).", "expand")
    if rest:
        _expand_path(value, rest, store, path, copier)
