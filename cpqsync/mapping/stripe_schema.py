"""A walkable view of the `stripe.params` TypedDicts, the one source of truth for request shapes.

The stripe library generates these TypedDicts from Stripe's OpenAPI spec, so checking mapping
paths and planned parameters against them keeps cpqsync in step with the pinned API version
without a hand-written copy of Stripe's schema. Their annotations are strings that only resolve
in their own module (and inherit request options we never send as parameters), hence the
resolver below instead of a plain `typing.get_type_hints`.
"""

from __future__ import annotations

import functools
import sys
import types
import typing
from dataclasses import dataclass
from typing import Any

import stripe.params as sp
import stripe.params.billing as spb
import typing_extensions
from stripe._request_options import RequestOptions

_REQUEST_OPTION_KEYS = frozenset(RequestOptions.__annotations__)

# The Stripe objects a mapping can target (rule M3) and the create parameters each fills in.
MAPPABLE_OBJECTS: dict[str, type] = {
    "customer": sp.CustomerCreateParams,
    "product": sp.ProductCreateParams,
    "price": sp.PriceCreateParams,
    "price_order_item": sp.PriceCreateParams,
    "subscription_schedule": sp.SubscriptionScheduleCreateParams,
    "subscription_phase": sp.SubscriptionScheduleCreateParamsPhase,
    "subscription_item": sp.SubscriptionScheduleCreateParamsPhaseItem,
    "invoice": sp.InvoiceCreateParams,
    "coupon": sp.CouponCreateParams,
}

# Every operation kind a plan may hold, with the parameters its endpoint takes.
ENDPOINT_PARAMS: dict[str, type] = {
    "customer.create": sp.CustomerCreateParams,
    "customer.update": sp.CustomerUpdateParams,
    "product.create": sp.ProductCreateParams,
    "product.update": sp.ProductUpdateParams,
    "price.create": sp.PriceCreateParams,
    "price.update": sp.PriceUpdateParams,
    "billing.meter.create": spb.MeterCreateParams,
    "coupon.create": sp.CouponCreateParams,
    "coupon.update": sp.CouponUpdateParams,
    "subscription_schedule.create": sp.SubscriptionScheduleCreateParams,
    "subscription_schedule.update": sp.SubscriptionScheduleUpdateParams,
    "subscription_schedule.cancel": sp.SubscriptionScheduleCancelParams,
    "subscription.update": sp.SubscriptionUpdateParams,
    "subscription.cancel": sp.SubscriptionCancelParams,
    "invoiceitem.create": sp.InvoiceItemCreateParams,
    "invoice.create": sp.InvoiceCreateParams,
    "invoice.finalize": sp.InvoiceFinalizeInvoiceParams,
}


@dataclass(frozen=True)
class ParamField:
    """One parameter of a TypedDict: its resolved type and whether Stripe requires it."""

    type: Any
    required: bool


@functools.cache
def fields_of(typed_dict: type) -> dict[str, ParamField]:
    """The parameters of ``typed_dict`` (request options such as ``api_key`` excluded)."""
    own = {
        key: ann
        for key, ann in typed_dict.__annotations__.items()
        if key not in _REQUEST_OPTION_KEYS
    }
    # get_type_hints resolves string annotations against a namespace; a throwaway module
    # carrying the TypedDict's own module globals is the one that makes them resolvable.
    holder = types.ModuleType("_stripe_params_holder")
    holder.__dict__.update(sys.modules[typed_dict.__module__].__dict__)
    holder.__annotations__ = own
    hints = typing.get_type_hints(holder, include_extras=True)
    required_keys: frozenset[str] = getattr(typed_dict, "__required_keys__", frozenset())
    out: dict[str, ParamField] = {}
    for key, hint in hints.items():
        inner, marked_optional = _unwrap_required(hint)
        out[key] = ParamField(inner, key in required_keys and not marked_optional)
    return out


def _unwrap_required(hint: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(hint)
    if origin in (typing.NotRequired, typing_extensions.NotRequired):
        return typing.get_args(hint)[0], True
    if origin in (typing.Required, typing_extensions.Required):
        return typing.get_args(hint)[0], False
    return hint, False


def is_typed_dict(tp: Any) -> bool:
    return isinstance(tp, type) and typing_extensions.is_typeddict(tp)


def union_members(tp: Any) -> tuple[Any, ...]:
    """The alternatives of a Union (``X|Y``), or ``(tp,)`` for anything else."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return typing.get_args(tp)
    return (tp,)


def literal_values(tp: Any) -> tuple[Any, ...]:
    return typing.get_args(tp) if typing.get_origin(tp) is typing.Literal else ()


def is_string_dict(tp: Any) -> bool:
    """``Dict[str, X]`` (metadata and the like): any key, one level deep."""
    return typing.get_origin(tp) is dict


def is_list(tp: Any) -> bool:
    return typing.get_origin(tp) is list


class UnknownStripePath(ValueError):
    """A dot path that names no parameter of the object (rule M5)."""


def leaf_type(typed_dict: type, path: tuple[str, ...], *, label: str) -> Any:
    """The type of the parameter at ``path``, following to-one nested objects only.

    Lists are refused because a mapping sets one value; `metadata.<key>` style paths into a
    string dictionary accept any key.
    """
    current: Any = typed_dict
    for depth, part in enumerate(path):
        walked = ".".join(path[: depth + 1])
        if is_typed_dict(current):
            field = fields_of(current).get(part)
            if field is None:
                raise UnknownStripePath(f"{walked!r} is not a parameter of a Stripe {label}")
            current = _pick_walkable(field.type)
            continue
        if is_string_dict(current):
            if depth != len(path) - 1:
                raise UnknownStripePath(f"{walked!r}: a {label} key/value map is one level deep")
            return typing.get_args(current)[1]
        parent = ".".join(path[:depth])
        if is_list(current):
            raise UnknownStripePath(
                f"{parent!r} is a list on a Stripe {label}; mappings reach only single values"
            )
        raise UnknownStripePath(f"{parent!r} on a Stripe {label} has no field {part!r}")
    return current


def _pick_walkable(tp: Any) -> Any:
    """Of ``Literal['']|SomeTypedDict`` keep the structured alternative a path can walk into."""
    members = union_members(tp)
    structured = [m for m in members if is_typed_dict(m) or is_string_dict(m)]
    if len(structured) == 1 and len(members) > 1:
        # Literal[''] ("unset") and UntypedStripeObject alternatives are not walkable.
        return structured[0]
    return tp
