"""Coupons, used by schedule phases and items as ``discounts``."""

from __future__ import annotations

from typing import Any

from stripe.params import (
    CouponCreateParams,
    CouponDeleteParams,
    CouponListParams,
    CouponRetrieveParams,
    CouponUpdateParams,
)

from cpqsync_sandbox.stripe_emulator.errors import exclusive, invalid, resource_missing
from cpqsync_sandbox.stripe_emulator.listing import created_filter, paginate
from cpqsync_sandbox.stripe_emulator.metadata import merged
from cpqsync_sandbox.stripe_emulator.routing import Call, Route, route
from cpqsync_sandbox.stripe_emulator.store import base_object, new_id

# Stripe's limit on a coupon's name, shown to customers on invoices and receipts.
MAX_NAME = 40


def _check_name(params: dict[str, Any]) -> None:
    name = params.get("name")
    if isinstance(name, str) and len(name) > MAX_NAME:
        raise invalid(f"Invalid string: {name}; must be at most {MAX_NAME} characters", "name")


def create(call: Call) -> dict[str, Any]:
    params, store = call.params, call.store
    coupon_id = params.get("id") or new_id("co")[3:11]
    if store.get("coupon", coupon_id) is not None:
        # Stripe refuses a second coupon under an id in use (coupons are looked up, not re-made).
        raise invalid("Coupon already exists.", "id", code="resource_already_exists")
    _check_name(params)
    percent, amount = params.get("percent_off"), params.get("amount_off")
    if percent is not None and amount is not None:
        raise exclusive("percent_off", "amount_off")
    if percent is None and amount is None:
        raise invalid("You must pass either percent_off or amount_off.", "percent_off")
    if percent is not None and not 0 < percent <= 100:
        raise invalid("Invalid percent_off: must be greater than 0 and at most 100", "percent_off")
    if amount is not None and "currency" not in params:
        raise invalid("You must pass currency when passing amount_off.", "currency")
    duration = params.get("duration", "once")
    months = params.get("duration_in_months")
    if duration == "repeating" and months is None:
        raise invalid(
            "Missing required param: duration_in_months (duration is repeating).",
            "duration_in_months",
        )
    if duration != "repeating" and months is not None:
        raise invalid(
            "duration_in_months can only be set when duration is repeating.", "duration_in_months"
        )
    coupon = base_object("coupon", coupon_id, store.now())
    coupon.update(
        {
            "amount_off": amount,
            "applies_to": None,
            "currency": params.get("currency", "").lower() or None,
            "duration": duration,
            "duration_in_months": months,
            "max_redemptions": params.get("max_redemptions"),
            "metadata": merged(None, params.get("metadata")),
            "name": params.get("name"),
            "percent_off": percent,
            "redeem_by": params.get("redeem_by"),
            "times_redeemed": 0,
            "valid": True,
        }
    )
    return store.add(coupon)


def retrieve(call: Call) -> dict[str, Any]:
    return call.store.require("coupon", call.arg("coupon"), status=404)


def update(call: Call) -> dict[str, Any]:
    coupon = call.store.require("coupon", call.arg("coupon"), status=404)
    _check_name(call.params)
    if "name" in call.params:
        coupon["name"] = call.params["name"] or None
    coupon["metadata"] = merged(coupon["metadata"], call.params.get("metadata"))
    return coupon


def delete(call: Call) -> dict[str, Any]:
    coupon_id = call.arg("coupon")
    if call.store.get("coupon", coupon_id) is None:
        raise resource_missing("coupon", coupon_id, "id", status=404)
    return call.store.delete("coupon", coupon_id)


def list_(call: Call) -> dict[str, Any]:
    items = created_filter(call.store.newest_first("coupon"), call.params.get("created"))
    return paginate(items, call.params, "/v1/coupons", "coupon")


_CREATE = {
    "id",
    "amount_off",
    "currency",
    "duration",
    "duration_in_months",
    "max_redemptions",
    "metadata",
    "name",
    "percent_off",
    "redeem_by",
}

ROUTES: list[Route] = [
    route("POST", "/v1/coupons", CouponCreateParams, create, _CREATE),
    route("GET", "/v1/coupons/{coupon}", CouponRetrieveParams, retrieve),
    route("POST", "/v1/coupons/{coupon}", CouponUpdateParams, update, {"name", "metadata"}),
    route("DELETE", "/v1/coupons/{coupon}", CouponDeleteParams, delete),
    route(
        "GET",
        "/v1/coupons",
        CouponListParams,
        list_,
        {"limit", "starting_after", "ending_before", "created"},
    ),
]
