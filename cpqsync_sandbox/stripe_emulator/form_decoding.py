"""Turn Stripe's bracketed form encoding (``items[0][price]=x``) back into nested values.

stripe-python flattens every request into ``application/x-www-form-urlencoded``
pairs; the emulator rebuilds the nested shape so validation can walk it like
the TypedDicts it was generated from. Lists arrive as dicts keyed by index and
stay that way here: only the validator knows whether a field is a list.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from cpqsync_sandbox.stripe_emulator.errors import invalid

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")

Raw = dict[str, Any]


def parse_pairs(pairs: list[tuple[str, str]]) -> Raw:
    """Nest decoded pairs; a bare ``[]`` appends, a repeated key keeps the last value."""
    root: Raw = {}
    for key, value in pairs:
        match = _KEY.match(key)
        if match is None:
            raise invalid(f"Invalid parameter name: {key}", param=key)
        segments = [match.group(1), *_SEGMENT.findall(match.group(2))]
        _place(root, segments, value, key)
    return root


def parse_form(body: str) -> Raw:
    return parse_pairs(parse_qsl(body, keep_blank_values=True))


def _place(root: Raw, segments: list[str], value: str, key: str) -> None:
    node = root
    for depth, segment in enumerate(segments):
        name = segment if segment != "" else str(len(node))
        last = depth == len(segments) - 1
        if last:
            if isinstance(node.get(name), dict):
                raise invalid(f"Invalid hash: {key} is given both as a hash and a value", key)
            node[name] = value
            return
        child = node.get(name)
        if child is None:
            child = {}
            node[name] = child
        elif not isinstance(child, dict):
            raise invalid(f"Invalid hash: {key} is given both as a hash and a value", key)
        node = child
