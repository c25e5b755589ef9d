"""The table of Stripe endpoints the emulator serves, and how a request finds one.

Each resource module contributes :class:`Route` entries naming the
``stripe.params`` TypedDict that validates the endpoint and the top-level
parameters the handler really implements: a valid Stripe parameter outside
that set answers 501 rather than being silently ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cpqsync_sandbox.stripe_emulator.store import Store

Handler = Callable[["Call"], dict[str, Any]]

# Accepted on every endpoint: expansion is handled centrally.
COMMON_PARAMS = frozenset({"expand"})


@dataclass
class Call:
    """What a handler gets: validated params, path ids, the account's objects."""

    params: dict[str, Any]
    path_args: dict[str, str]
    store: Store
    base_url: str
    path: str

    def arg(self, name: str) -> str:
        return self.path_args[name]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str
    params_type: type
    handler: Handler
    supported: frozenset[str] | None = None
    regex: re.Pattern[str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        expression = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.pattern)
        object.__setattr__(self, "regex", re.compile(f"^{expression}$"))

    def unsupported(self, params: dict[str, Any]) -> list[str]:
        if self.supported is None:
            return []
        return [key for key in params if key not in self.supported and key not in COMMON_PARAMS]


def route(
    method: str,
    pattern: str,
    params_type: type,
    handler: Handler,
    supported: set[str] | frozenset[str] | None = None,
) -> Route:
    return Route(method, pattern, params_type, handler, frozenset(supported) if supported else None)


class Router:
    def __init__(self, routes: list[Route]) -> None:
        self._by_prefix: dict[tuple[str, str], list[Route]] = {}
        for entry in routes:
            self._by_prefix.setdefault((entry.method, _prefix(entry.pattern)), []).append(entry)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for entry in self._by_prefix.get((method, _prefix(path)), ()):
            found = entry.regex.match(path)
            # `/v1/prices/search` is Stripe's search endpoint (not modelled: 501), not a price id.
            if found is not None and "search" not in found.groupdict().values():
                return entry, found.groupdict()
        return None


def _prefix(path: str) -> str:
    """``/v1/prices/{price}`` and ``/v1/prices/price_1`` share ``/v1/prices``."""
    parts = path.split("/")
    if len(parts) > 3 and parts[2] in ("billing", "test_helpers"):
        return "/".join(parts[:4])
    return "/".join(parts[:3])
