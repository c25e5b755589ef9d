"""Prices: one-time, recurring, tiered and metered; immutable except the fields Stripe lets change.

Immutability needs no code here: ``PriceUpdateParams`` only declares the
mutable fields, so ``unit_amount`` on an update is an unknown parameter (400),
exactly as Stripe answers. ``tiers`` is, as in Stripe, only returned when
expanded (``expand=["tiers"]``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from stripe.params import (
    PriceCreateParams,
    PriceListParams,
    PriceRetrieveParams,
    PriceUpdateParams,
)

from cpqsync_sandbox.stripe_emulator.errors import exclusive, invalid, missing_parameter
from cpqsync_sandbox.stripe_emulator.listing import created_filter, paginate
from cpqsync_sandbox.stripe_emulator.metadata import merged
from cpqsync_sandbox.stripe_emulator.products import create_product
from cpqsync_sandbox.stripe_emulator.routing import Call, Route, route
from cpqsync_sandbox.stripe_emulator.store import Store, base_object, new_id

MAX_LOOKUP_KEY = 200
MAX_DECIMAL_PLACES = 12
_CURRENCY = re.compile(r"^[a-z]{3}$")
_DAYS_PER_INTERVAL = {"day": 1, "week": 7, "month": 365 / 12, "year": 365}
_MAX_DAYS = 3 * 365 + 1  # Stripe's cap: 3 years (36 months, 156 weeks, 1095 days)


def decimal_string(value: Decimal) -> str:
    """Stripe's rendering of ``*_decimal`` fields: plain digits, no exponent or padding."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _check_decimal(value: Decimal, param: str) -> None:
    exponent = value.as_tuple().exponent
    if value < 0:
        raise invalid(f"Invalid {param}: must be greater than or equal to 0", param)
    if isinstance(exponent, int) and -exponent > MAX_DECIMAL_PLACES:
        raise invalid(
            f"Invalid decimal: {value}. {param} can have at most "
            f"{MAX_DECIMAL_PLACES} decimal places.",
            param,
        )


def _amount_pair(
    source: dict[str, Any], name: str, param: Callable[[str], str]
) -> tuple[int | None, str | None]:
    """(integer amount, decimal string) from ``name`` / ``name_decimal`` (mutually exclusive)."""
    integer = source.get(name)
    dec = source.get(f"{name}_decimal")
    if integer is not None and dec is not None:
        raise exclusive(param(name), param(f"{name}_decimal"))
    if integer is not None:
        if integer < 0:
            raise invalid(f"Invalid {param(name)}: must be greater than or equal to 0", param(name))
        return integer, str(integer)
    if dec is not None:
        _check_decimal(dec, param(f"{name}_decimal"))
        return (int(dec) if dec == dec.to_integral_value() else None), decimal_string(dec)
    return None, None


def _top(name: str) -> str:
    return name


def _tiers(params: dict[str, Any]) -> list[dict[str, Any]]:
    tiers = params.get("tiers")
    if not tiers:
        raise missing_parameter("tiers")
    if "tiers_mode" not in params:
        raise missing_parameter("tiers_mode")
    result: list[dict[str, Any]] = []
    previous = 0
    for index, tier in enumerate(tiers):

        def param(name: str, index: int = index) -> str:
            return f"tiers[{index}][{name}]"

        up_to = tier["up_to"]
        last = index == len(tiers) - 1
        if up_to == "inf" and not last:
            raise invalid(
                f"Invalid {param('up_to')}: only the last tier can have up_to=inf",
                param("up_to"),
            )
        if up_to != "inf" and last:
            raise invalid("The last tier must have up_to=inf (an unbounded tier).", param("up_to"))
        if up_to != "inf":
            if up_to <= previous:
                raise invalid(
                    f"Invalid {param('up_to')}: tiers must be sorted by ascending up_to",
                    param("up_to"),
                )
            previous = up_to
        unit, unit_dec = _amount_pair(tier, "unit_amount", param)
        flat, flat_dec = _amount_pair(tier, "flat_amount", param)
        if unit_dec is None and flat_dec is None:
            raise invalid(
                "Each tier needs one of unit_amount, unit_amount_decimal, flat_amount or "
                f"flat_amount_decimal (tiers[{index}]).",
                param("unit_amount"),
            )
        result.append(
            {
                "flat_amount": flat,
                "flat_amount_decimal": flat_dec,
                "unit_amount": unit,
                "unit_amount_decimal": unit_dec,
                "up_to": None if up_to == "inf" else up_to,
            }
        )
    return result


def _recurring(store: Store, recurring: dict[str, Any]) -> dict[str, Any]:
    interval = recurring["interval"]
    count = recurring.get("interval_count", 1)
    if count < 1 or count * _DAYS_PER_INTERVAL[interval] > _MAX_DAYS:
        raise invalid(
            "Invalid recurring[interval_count]: The maximum recurring interval is 3 years "
            "(36 months, 156 weeks, or 1095 days).",
            "recurring[interval_count]",
        )
    usage_type = recurring.get("usage_type", "licensed")
    meter_id = recurring.get("meter")
    if usage_type == "metered":
        if not meter_id:
            raise invalid(
                "Metered prices must be backed by a billing meter: set recurring[meter] "
                "(recurring[aggregate_usage] was removed in API version 2025-03-31.basil).",
                "recurring[meter]",
            )
        meter = store.require("billing.meter", meter_id, "recurring[meter]")
        if meter["status"] != "active":
            raise invalid(f"The billing meter '{meter_id}' is inactive.", "recurring[meter]")
    elif meter_id:
        raise invalid(
            "recurring[meter] can only be set when recurring[usage_type] is metered.",
            "recurring[meter]",
        )
    return {
        "interval": interval,
        "interval_count": count,
        "meter": meter_id,
        "trial_period_days": recurring.get("trial_period_days"),
        "usage_type": usage_type,
    }


def _claim_lookup_key(store: Store, key: str, price_id: str, transfer: bool) -> None:
    if len(key) > MAX_LOOKUP_KEY:
        raise invalid(
            f"Invalid lookup_key: must be at most {MAX_LOOKUP_KEY} characters", "lookup_key"
        )
    holder = store.lookup_keys.get(key)
    if holder is not None and holder != price_id:
        if not transfer:
            raise invalid(f"A price (`{holder}`) already uses that lookup key.", "lookup_key")
        store.tables["price"][holder]["lookup_key"] = None
    store.lookup_keys[key] = price_id


def create(call: Call) -> dict[str, Any]:
    params, store = call.params, call.store
    now = store.now()
    currency = params["currency"].lower()
    if not _CURRENCY.match(currency):
        raise invalid(f"Invalid currency: {params['currency']}.", "currency")
    if "product" in params and "product_data" in params:
        raise exclusive("product", "product_data")
    if "product" not in params and "product_data" not in params:
        raise invalid(
            "You must specify either `product` or `product_data` when creating a price.",
            "product",
        )
    if "product" in params:
        store.require("product", params["product"], "product")
    scheme = params.get("billing_scheme", "per_unit")
    unit, unit_dec = _amount_pair(params, "unit_amount", _top)
    tiers: list[dict[str, Any]] | None = None
    if scheme == "tiered":
        if unit_dec is not None:
            raise invalid(
                "unit_amount and unit_amount_decimal cannot be set when billing_scheme=tiered; "
                "put amounts on the tiers.",
                "unit_amount" if params.get("unit_amount") is not None else "unit_amount_decimal",
            )
        if "recurring" not in params:
            raise invalid("Tiered prices must be recurring: set recurring.", "recurring")
        tiers = _tiers(params)
    else:
        if "tiers" in params or "tiers_mode" in params:
            name = "tiers" if "tiers" in params else "tiers_mode"
            raise invalid(f"{name} can only be set when billing_scheme=tiered.", name)
        if unit_dec is None:
            raise missing_parameter("unit_amount")
    recurring = _recurring(store, params["recurring"]) if "recurring" in params else None
    metadata = merged(None, params.get("metadata"))
    price_id = new_id("price")
    if params.get("lookup_key"):
        _claim_lookup_key(
            store, params["lookup_key"], price_id, bool(params.get("transfer_lookup_key"))
        )
    product_id = params.get("product") or create_product(
        store, params["product_data"], now, "product_data["
    )
    price = base_object("price", price_id, now)
    price.update(
        {
            "active": params.get("active", True),
            "billing_scheme": scheme,
            "currency": currency,
            "currency_options": None,
            "custom_unit_amount": None,
            "lookup_key": params.get("lookup_key") or None,
            "metadata": metadata,
            "nickname": params.get("nickname"),
            "product": product_id,
            "recurring": recurring,
            "tax_behavior": params.get("tax_behavior", "unspecified"),
            "tiers": tiers,
            "tiers_mode": params.get("tiers_mode"),
            "transform_quantity": params.get("transform_quantity"),
            "type": "recurring" if recurring else "one_time",
            "unit_amount": unit,
            "unit_amount_decimal": unit_dec,
        }
    )
    return store.add(price)


def retrieve(call: Call) -> dict[str, Any]:
    return call.store.require("price", call.arg("price"), status=404)


def update(call: Call) -> dict[str, Any]:
    params, store = call.params, call.store
    price = store.require("price", call.arg("price"), status=404)
    if "tax_behavior" in params and price["tax_behavior"] not in (
        "unspecified",
        params["tax_behavior"],
    ):
        raise invalid(
            "tax_behavior cannot be changed once it is inclusive or exclusive.", "tax_behavior"
        )
    price["metadata"] = merged(price["metadata"], params.get("metadata"))
    if "lookup_key" in params:
        if price["lookup_key"]:
            store.lookup_keys.pop(price["lookup_key"], None)
        if params["lookup_key"]:
            _claim_lookup_key(
                store, params["lookup_key"], price["id"], bool(params.get("transfer_lookup_key"))
            )
        price["lookup_key"] = params["lookup_key"] or None
    for name in ("active", "nickname", "tax_behavior"):
        if name in params:
            price[name] = params[name] if params[name] != "" else None
    return price


def list_(call: Call) -> dict[str, Any]:
    params = call.params
    items = call.store.newest_first("price")
    if "lookup_keys" in params:
        keys = params["lookup_keys"]
        if len(keys) > 10:
            raise invalid(
                "Invalid lookup_keys: you can pass at most 10 lookup keys.", "lookup_keys"
            )
        items = [p for p in items if p["lookup_key"] in keys]
    for name in ("active", "currency", "product", "type"):
        if name in params:
            items = [p for p in items if p[name] == params[name]]
    for name, wanted in params.get("recurring", {}).items():
        items = [p for p in items if p["recurring"] and p["recurring"][name] == wanted]
    items = created_filter(items, params.get("created"))
    return paginate(items, params, "/v1/prices", "price")


_CREATE = {
    "active",
    "billing_scheme",
    "currency",
    "lookup_key",
    "metadata",
    "nickname",
    "product",
    "product_data",
    "recurring",
    "tax_behavior",
    "tiers",
    "tiers_mode",
    "transfer_lookup_key",
    "transform_quantity",
    "unit_amount",
    "unit_amount_decimal",
}
_UPDATE = {"active", "lookup_key", "metadata", "nickname", "tax_behavior", "transfer_lookup_key"}
_LIST = {"limit", "starting_after", "ending_before", "created", "active", "currency"}

ROUTES: list[Route] = [
    route("POST", "/v1/prices", PriceCreateParams, create, _CREATE),
    route("GET", "/v1/prices/{price}", PriceRetrieveParams, retrieve),
    route("POST", "/v1/prices/{price}", PriceUpdateParams, update, _UPDATE),
    route(
        "GET",
        "/v1/prices",
        PriceListParams,
        list_,
        {*_LIST, "lookup_keys", "product", "type", "recurring"},
    ),
]


def inline_price(
    store: Store, data: dict[str, Any], param: str, *, recurring: bool
) -> dict[str, Any]:
    """``price_data`` on schedule items and invoice items: a hidden (inactive) per-unit price.

    Not stored: the caller adds it once the whole request is accepted (Stripe makes nothing
    for a request it refuses)."""
    store.require("product", data["product"], f"{param}[product]")

    def name(field: str) -> str:
        return f"{param}[{field}]"

    unit, unit_dec = _amount_pair(data, "unit_amount", name)
    if unit_dec is None:
        raise missing_parameter(name("unit_amount"))
    if recurring and "recurring" not in data:
        raise missing_parameter(name("recurring"))
    price = base_object("price", new_id("price"), store.now())
    price.update(
        {
            "active": False,
            "billing_scheme": "per_unit",
            "currency": data["currency"].lower(),
            "currency_options": None,
            "custom_unit_amount": None,
            "lookup_key": None,
            "metadata": {},
            "nickname": None,
            "product": data["product"],
            "recurring": _recurring(store, data["recurring"]) if recurring else None,
            "tax_behavior": data.get("tax_behavior", "unspecified"),
            "tiers": None,
            "tiers_mode": None,
            "transform_quantity": None,
            "type": "recurring" if recurring else "one_time",
            "unit_amount": unit,
            "unit_amount_decimal": unit_dec,
        }
    )
    return price
