"""Safe SOQL literals for our own query builders, so no value can break out of its quotes."""

from __future__ import annotations

_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}


def quote(value: str) -> str:
    """``O'Brien`` -> ``'O\\'Brien'``: a single-quoted SOQL string literal for any text."""
    return "'" + "".join(_ESCAPES.get(ch, ch) for ch in value) + "'"


def quote_like(value: str, *, wildcard_before: bool = False, wildcard_after: bool = False) -> str:
    """A LIKE pattern literal matching ``value`` as text (its ``%`` and ``_`` escaped), with
    optional ``%`` wildcards around it, e.g. ``quote_like("50%", wildcard_after=True)``."""
    escaped = "".join(_ESCAPES.get(ch, ch) for ch in value)
    escaped = escaped.replace("%", "\\%").replace("_", "\\_")
    before = "%" if wildcard_before else ""
    after = "%" if wildcard_after else ""
    return f"'{before}{escaped}{after}'"
