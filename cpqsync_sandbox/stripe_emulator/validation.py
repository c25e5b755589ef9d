"""Validate decoded requests against the ``stripe.params`` TypedDicts of the installed library.

Those TypedDicts are generated from Stripe's OpenAPI spec, so checking against
them gives the emulator Stripe's parameter rules for free: unknown names,
wrong types and missing required fields all answer the 400 Stripe would, with
``param`` naming the offending path (``phases[0][items][0][price]``).

Values arrive as strings (form encoding); validation also coerces them to the
Python types the handlers work with (int, bool, Decimal).

Enums typed ``Literal[...] | str`` are open in the client for forward
compatibility, but Stripe's server rejects values outside the enum, so the
emulator treats them as closed.
"""

from __future__ import annotations

import decimal
import re
import sys
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ForwardRef, Union

import typing_extensions
from stripe._request_options import RequestOptions
from stripe._stripe_object import UntypedStripeObject

from cpqsync_sandbox.stripe_emulator.errors import (
    StripeApiError,
    invalid,
    missing_parameter,
    unknown_parameter,
)

# Keys a params TypedDict inherits from RequestOptions travel as headers, never as parameters.
_OPTION_KEYS = frozenset(RequestOptions.__annotations__)
_INTEGER = re.compile(r"^-?\d+$")


def param_name(path: tuple[str, ...]) -> str:
    """``("phases", "0", "end_date")`` -> ``phases[0][end_date]``, Stripe's spelling."""
    head, *rest = path
    return head + "".join(f"[{part}]" for part in rest)


class Node:
    """One node of a compiled parameter schema."""

    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        raise NotImplementedError


class AnyNode(Node):
    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        return value


class StrNode(Node):
    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        if not isinstance(value, str):
            raise invalid(f"Invalid string: {param_name(path)} must be a string", param_name(path))
        return value


class IntNode(Node):
    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        if isinstance(value, str) and _INTEGER.match(value):
            return int(value)
        raise invalid(
            f"Invalid integer: {_show(value)}", param_name(path), "parameter_invalid_integer"
        )


class FloatNode(Node):
    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        try:
            if isinstance(value, str):
                return float(value)
        except ValueError:
            pass
        raise invalid(f"Invalid float: {_show(value)}", param_name(path))


class DecimalNode(Node):
    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        if isinstance(value, str):
            try:
                number = decimal.Decimal(value)
            except decimal.InvalidOperation:
                number = None
            if number is not None and number.is_finite():
                return number
        raise invalid(f"Invalid decimal: {_show(value)}", param_name(path))


class BoolNode(Node):
    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        if value in ("true", "false"):
            return value == "true"
        raise invalid(f"Invalid boolean: {_show(value)}", param_name(path))


@dataclass
class EnumNode(Node):
    values: tuple[str, ...]

    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        if isinstance(value, str) and value in self.values:
            return value
        choices = ", ".join(self.values[:-1]) + f", or {self.values[-1]}"
        if len(self.values) == 1:
            choices = self.values[0]
        name = param_name(path)
        raise invalid(f"Invalid {name}: must be one of {choices}", name)


@dataclass
class ListNode(Node):
    item: Node

    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        if isinstance(value, dict) and all(key.isdigit() for key in value):
            ordered = sorted(value.items(), key=lambda pair: int(pair[0]))
            return [self.item.check(item, (*path, index)) for index, item in ordered]
        raise invalid(f"Invalid array: {param_name(path)} must be an array", param_name(path))


@dataclass
class MapNode(Node):
    value: Node

    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        if not isinstance(value, dict):
            raise invalid(f"Invalid object: {param_name(path)} must be a hash", param_name(path))
        return {key: self.value.check(item, (*path, key)) for key, item in value.items()}


@dataclass
class ObjectNode(Node):
    name: str
    fields: dict[str, Node]
    required: frozenset[str]

    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        if not isinstance(value, dict):
            if not path:
                raise invalid("Invalid request body")
            raise invalid(f"Invalid object: {param_name(path)} must be a hash", param_name(path))
        for key in value:
            if key not in self.fields:
                raise unknown_parameter(param_name((*path, key)))
        out = {key: self.fields[key].check(item, (*path, key)) for key, item in value.items()}
        for key in sorted(self.required - value.keys()):
            raise missing_parameter(param_name((*path, key)))
        return out


@dataclass
class UnionNode(Node):
    options: tuple[Node, ...]

    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        errors: list[tuple[Node, StripeApiError]] = []
        for option in self.options:
            try:
                return option.check(value, path)
            except StripeApiError as failure:
                errors.append((option, failure))
        # Report the alternative that matches the value's shape: a hash gets the
        # hash's complaint (e.g. an unknown nested key), a scalar the scalar's.
        structured = (ObjectNode, MapNode, ListNode)
        fitting = [e for o, e in errors if isinstance(value, dict) == isinstance(o, structured)]
        raise (fitting or [errors[0][1]])[0]


@dataclass
class EmptyOrNode(Node):
    """``Literal[''] | X``: posting an empty string clears the field (Stripe's unset)."""

    inner: Node

    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        if value == "":
            return ""
        return self.inner.check(value, path)


def _show(value: Any) -> str:
    return value if isinstance(value, str) else "a hash"


class SchemaCompiler:
    """Compiles TypedDict classes into :class:`Node` trees, once per class."""

    def __init__(self) -> None:
        self._cache: dict[type, ObjectNode] = {}

    def compile(self, typed_dict: type) -> ObjectNode:
        cached = self._cache.get(typed_dict)
        if cached is not None:
            return cached
        node = ObjectNode(typed_dict.__name__, {}, frozenset())
        self._cache[typed_dict] = node  # placed first: schemas may refer to themselves
        namespace = vars(sys.modules[typed_dict.__module__])
        required: set[str] = set()
        required_keys: frozenset[str] = getattr(typed_dict, "__required_keys__", frozenset())
        for key, annotation in typed_dict.__annotations__.items():
            if key in _OPTION_KEYS and _inherits_options(typed_dict):
                continue
            inner, is_required = _strip_required(annotation, key in required_keys)
            node.fields[key] = self._node(inner, namespace)
            if is_required:
                required.add(key)
        node.required = frozenset(required)
        return node

    def _node(self, annotation: Any, namespace: Mapping[str, Any]) -> Node:
        if isinstance(annotation, str):
            annotation = ForwardRef(annotation)
        if isinstance(annotation, ForwardRef):
            annotation = eval(annotation.__forward_arg__, dict(namespace))  # noqa: S307 - generated types
            return self._node(annotation, namespace)
        simple = _SIMPLE.get(annotation)
        if simple is not None:
            return simple
        if typing_extensions.is_typeddict(annotation):
            return self.compile(annotation)
        origin = typing_extensions.get_origin(annotation)
        args = typing_extensions.get_args(annotation)
        if origin in (typing.Literal, typing_extensions.Literal):
            return EnumNode(tuple(str(arg) for arg in args))
        if origin in (list, typing.List):  # noqa: UP006 - matches the generated annotations
            return ListNode(self._node(args[0], namespace))
        if origin in (dict, typing.Dict, Mapping) or origin is UntypedStripeObject:  # noqa: UP006
            return MapNode(self._node(args[-1], namespace))
        if origin in (Union, types.UnionType):
            return self._union(args, namespace)
        raise TypeError(f"unsupported parameter annotation {annotation!r}")

    def _union(self, args: tuple[Any, ...], namespace: Mapping[str, Any]) -> Node:
        nodes = [self._node(arg, namespace) for arg in args if arg is not type(None)]
        allows_empty = any(isinstance(n, EnumNode) and n.values == ("",) for n in nodes)
        nodes = [n for n in nodes if not (isinstance(n, EnumNode) and n.values == ("",))]
        enums = [n for n in nodes if isinstance(n, EnumNode)]
        # `Literal[...] | str` is an enum the server closes (see module docstring).
        if enums and any(isinstance(n, StrNode) for n in nodes):
            nodes = [n for n in nodes if not isinstance(n, StrNode)]
        deduped: list[Node] = []
        for node in nodes:
            if isinstance(node, MapNode) and any(isinstance(d, MapNode) for d in deduped):
                continue
            deduped.append(node)
        result: Node = deduped[0] if len(deduped) == 1 else UnionNode(tuple(deduped))
        if not deduped:
            result = EnumNode(("",))
        return EmptyOrNode(result) if allows_empty and deduped else result


def _inherits_options(typed_dict: type) -> bool:
    return any(base is RequestOptions for base in getattr(typed_dict, "__orig_bases__", ()))


def _strip_required(annotation: Any, default: bool) -> tuple[Any, bool]:
    origin = typing_extensions.get_origin(annotation)
    if origin in (typing.NotRequired, typing_extensions.NotRequired):
        return typing_extensions.get_args(annotation)[0], False
    if origin in (typing.Required, typing_extensions.Required):
        return typing_extensions.get_args(annotation)[0], True
    return annotation, default


_SIMPLE: dict[Any, Node] = {
    str: StrNode(),
    int: IntNode(),
    float: FloatNode(),
    bool: BoolNode(),
    decimal.Decimal: DecimalNode(),
    Any: AnyNode(),
    object: AnyNode(),
}


def validate(schema: ObjectNode, raw: dict[str, Any]) -> dict[str, Any]:
    """Checked, coerced parameters; raises :class:`StripeApiError` (400) naming the param."""
    result: dict[str, Any] = schema.check(raw, ())
    return result
