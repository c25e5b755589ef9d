"""Turn stored objects into response bodies: complete, expand, hide what Stripe hides.

Stored objects keep emulator bookkeeping under ``_``-prefixed keys and keep a
price's ``tiers`` always; responses drop both (Stripe returns ``tiers`` only
when expanded). Subscriptions always carry full prices on their items, as
Stripe's do.
"""

from __future__ import annotations

import json
from typing import Any

from stripe._object_classes import OBJECT_CLASSES

from cpqsync_sandbox.stripe_emulator.expansion import expand
from cpqsync_sandbox.stripe_emulator.shapes import complete
from cpqsync_sandbox.stripe_emulator.store import Store

_ALWAYS_EXPANDED = {"subscription": ["items.data.price"]}


def _complete_all(node: Any) -> None:
    if isinstance(node, dict):
        kind = node.get("object")
        if isinstance(kind, str) and kind in OBJECT_CLASSES and not node.get("deleted"):
            complete(node)
        for value in node.values():
            if isinstance(value, dict | list):
                _complete_all(value)
    elif isinstance(node, list):
        for value in node:
            _complete_all(value)


def _copy(node: Any, keep_tiers: bool) -> Any:
    if isinstance(node, dict):
        is_price = node.get("object") == "price"
        return {
            key: _copy(value, keep_tiers)
            for key, value in node.items()
            if not key.startswith("_") and not (is_price and key == "tiers" and not keep_tiers)
        }
    if isinstance(node, list):
        return [_copy(value, keep_tiers) for value in node]
    return node


def render(obj: dict[str, Any], expand_paths: list[str], store: Store) -> dict[str, Any]:
    keep_tiers = any(path.rsplit(".", 1)[-1] == "tiers" for path in expand_paths)

    def copier(found: dict[str, Any]) -> dict[str, Any]:
        _complete_all(found)
        result: dict[str, Any] = _copy(found, keep_tiers)
        return result

    body = copier(obj)
    kinds = {obj.get("object")}
    if obj.get("object") == "list":
        kinds = {item.get("object") for item in obj["data"]}
    paths = [path for path in expand_paths if path.rsplit(".", 1)[-1] != "tiers"]
    for kind in kinds:
        for path in _ALWAYS_EXPANDED.get(str(kind), []):
            paths.append(f"data.{path}" if obj.get("object") == "list" else path)
    if paths:
        body = expand(body, paths, store, copier)
    return body


def to_json(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()
