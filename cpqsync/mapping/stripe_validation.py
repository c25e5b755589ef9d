"""Checks a parameter dict against the `stripe.params` TypedDict of its endpoint.

Mapping defaults are checked with it when the configuration loads (a default of the wrong type
is a configuration error, rule M5), and tests check every planned operation with it, so a plan
can never carry a parameter Stripe would reject as unknown or mistyped.

Plans are JSON, so a `Decimal` parameter is accepted as a decimal string (which is what the
stripe library sends on the wire anyway), and a ``{"$ref": ...}`` placeholder stands for an id
another operation of the same plan produces.
"""

from __future__ import annotations

import decimal
import re
import typing
from typing import Any

from cpqsync.mapping.stripe_schema import (
    fields_of,
    is_list,
    is_string_dict,
    is_typed_dict,
    literal_values,
    union_members,
)

_DECIMAL_TEXT = re.compile(r"^-?\d+(\.\d{1,12})?$")
_MAX_DEPTH = 12


def problems(typed_dict: type, params: Any, *, allow_refs: bool = True) -> list[str]:
    """Every way ``params`` breaks ``typed_dict``, each naming its dot path; empty when valid."""
    out: list[str] = []
    _check(typed_dict, params, "", out, allow_refs, 0)
    return out


def check_value(tp: Any, value: Any, *, path: str = "") -> list[str]:
    """Problems of a single value against a resolved parameter type."""
    out: list[str] = []
    _check(tp, value, path, out, False, 0)
    return out


def _is_ref(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("$ref"), str)


def _check(tp: Any, value: Any, path: str, out: list[str], refs: bool, depth: int) -> None:
    if depth > _MAX_DEPTH:
        out.append(f"{path or '(root)'}: nested too deeply")
        return
    members = union_members(tp)
    if len(members) > 1:
        attempts: list[list[str]] = []
        for member in members:
            found: list[str] = []
            _check(member, value, path, found, refs, depth + 1)
            if not found:
                return
            attempts.append(found)
        # Report the alternative that got furthest: the one with the fewest problems.
        best: list[str] = min(attempts, key=_count)
        out.extend(best)
        return
    where = path or "(root)"
    if tp is typing.Any or tp is object:
        return
    literals = literal_values(tp)
    if literals:
        if value not in literals or isinstance(value, bool) != isinstance(literals[0], bool):
            out.append(f"{where}: {value!r} is not one of {list(literals)!r}")
        return
    if is_typed_dict(tp):
        _check_typed_dict(tp, value, path, out, refs, depth)
        return
    if is_list(tp):
        if not isinstance(value, list):
            out.append(f"{where}: expected a list, got {type(value).__name__}")
            return
        (item_type,) = typing.get_args(tp)
        for index, item in enumerate(value):
            _check(item_type, item, f"{path}[{index}]", out, refs, depth + 1)
        return
    if is_string_dict(tp):
        if not isinstance(value, dict):
            out.append(f"{where}: expected a key/value map, got {type(value).__name__}")
            return
        _, value_type = typing.get_args(tp)
        for key, item in value.items():
            if not isinstance(key, str):
                out.append(f"{where}: key {key!r} is not a string")
            _check(value_type, item, f"{path}.{key}", out, refs, depth + 1)
        return
    _check_scalar(tp, value, where, out, refs)


def _count(found: list[str]) -> int:
    return len(found)


def _check_typed_dict(
    tp: type, value: Any, path: str, out: list[str], refs: bool, depth: int
) -> None:
    where = path or "(root)"
    if not isinstance(value, dict):
        out.append(f"{where}: expected an object, got {type(value).__name__}")
        return
    fields = fields_of(tp)
    prefix = f"{path}." if path else ""
    for key, item in value.items():
        field = fields.get(key)
        if field is None:
            out.append(f"{prefix}{key}: unknown parameter")
            continue
        _check(field.type, item, f"{prefix}{key}", out, refs, depth + 1)
    for key, field in fields.items():
        if field.required and key not in value:
            out.append(f"{prefix}{key}: required parameter missing")


def _check_scalar(tp: Any, value: Any, where: str, out: list[str], refs: bool) -> None:
    if tp is str:
        if isinstance(value, str) or (refs and _is_ref(value)):
            return
        out.append(f"{where}: expected a string, got {value!r}")
    elif tp is bool:
        if not isinstance(value, bool):
            out.append(f"{where}: expected true or false, got {value!r}")
    elif tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            out.append(f"{where}: expected an integer, got {value!r}")
    elif tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            out.append(f"{where}: expected a number, got {value!r}")
    elif tp is decimal.Decimal:
        if isinstance(value, decimal.Decimal) and value.is_finite():
            return
        if isinstance(value, str) and _DECIMAL_TEXT.match(value):
            return
        out.append(f"{where}: expected a decimal string with at most 12 places, got {value!r}")
    else:
        # UntypedStripeObject and other library-internal alternatives: never produced by us.
        out.append(f"{where}: {value!r} does not match {tp!r}")
