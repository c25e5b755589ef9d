"""Stripe parameters whose values have a parser of their own, beyond their type (rule O4).

Most mapped values are converted by their parameter's type alone (`coercion.coerce`). A few
Stripe fields have a vocabulary CPQ picklists already speak: ``days_until_due`` takes "Net 30"
from a field default or a custom mapping exactly as it does from ``SBQQ__PaymentTerm__c``.
Keyed by the parameter's last path component, since the field means the same on every object
(a schedule's default settings, a phase's invoice settings, an invoice).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cpqsync.mapping.coercion import coerce
from cpqsync.mapping.payment_terms import days_until_due

FIELD_PARSERS: dict[str, Callable[[Any], Any]] = {"days_until_due": days_until_due}


def coerce_field(value: Any, target: Any, path: tuple[str, ...]) -> Any:
    """``value`` for the Stripe parameter at ``path``, of type ``target``."""
    parser = FIELD_PARSERS.get(path[-1])
    return parser(value) if parser is not None else coerce(value, target)
