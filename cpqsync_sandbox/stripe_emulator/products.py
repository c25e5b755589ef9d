"""Products, including caller-chosen ids (a deterministic id makes creation idempotent forever)."""

from __future__ import annotations

from typing import Any

from stripe.params import (
    ProductCreateParams,
    ProductDeleteParams,
    ProductListParams,
    ProductRetrieveParams,
    ProductUpdateParams,
)

from cpqsync_sandbox.stripe_emulator.errors import invalid, resource_missing
from cpqsync_sandbox.stripe_emulator.listing import created_filter, paginate
from cpqsync_sandbox.stripe_emulator.metadata import merged
from cpqsync_sandbox.stripe_emulator.routing import Call, Route, route
from cpqsync_sandbox.stripe_emulator.store import Store, base_object, new_id

_PLAIN = (
    "name",
    "active",
    "description",
    "statement_descriptor",
    "tax_code",
    "unit_label",
    "url",
    "images",
    "shippable",
    "marketing_features",
    "package_dimensions",
)
_EDITABLE = {*_PLAIN, "metadata"}


def _apply(product: dict[str, Any], params: dict[str, Any]) -> None:
    for name in _PLAIN:
        if name in params:
            value = params[name]
            product[name] = None if value == "" and name not in ("images",) else value
    product["metadata"] = merged(product.get("metadata"), params.get("metadata"))


def create_product(store: Store, params: dict[str, Any], now: int, param_prefix: str = "") -> str:
    """Shared with ``prices.create(product_data=…)``, which makes a product inline."""
    product_id = params.get("id") or new_id("prod")
    if store.get("product", product_id) is not None:
        raise invalid(
            "Product already exists.", f"{param_prefix}id", code="resource_already_exists"
        )
    if not params.get("name"):
        raise invalid(f"Missing required param: {param_prefix}name.", f"{param_prefix}name")
    product = base_object("product", product_id, now)
    product.update(
        {
            "active": True,
            "attributes": [],
            "default_price": None,
            "description": None,
            "images": [],
            "marketing_features": [],
            "metadata": {},
            "package_dimensions": None,
            "shippable": None,
            "statement_descriptor": None,
            "tax_code": None,
            "type": "service",
            "unit_label": None,
            "updated": now,
            "url": None,
        }
    )
    _apply(product, params)
    store.add(product)
    return product_id


def create(call: Call) -> dict[str, Any]:
    product_id = create_product(call.store, call.params, call.store.now())
    return call.store.tables["product"][product_id]


def retrieve(call: Call) -> dict[str, Any]:
    return call.store.require("product", call.arg("id"), status=404)


def update(call: Call) -> dict[str, Any]:
    product = call.store.require("product", call.arg("id"), status=404)
    params = call.params
    if params.get("default_price"):
        price = call.store.require("price", params["default_price"], "default_price")
        if price["product"] != product["id"]:
            raise invalid("The default price must belong to this product.", "default_price")
        product["default_price"] = price["id"]
    elif params.get("default_price") == "":
        product["default_price"] = None
    _apply(product, params)
    product["updated"] = call.store.now()
    return product


def delete(call: Call) -> dict[str, Any]:
    product_id = call.arg("id")
    if call.store.get("product", product_id) is None:
        raise resource_missing("product", product_id, "id", status=404)
    if any(p["product"] == product_id for p in call.store.tables["price"].values()):
        raise invalid(
            "This product cannot be deleted because it has one or more user-created prices."
        )
    return call.store.delete("product", product_id)


def list_(call: Call) -> dict[str, Any]:
    params = call.params
    items = call.store.newest_first("product")
    if "active" in params:
        items = [p for p in items if p["active"] is params["active"]]
    if "ids" in params:
        wanted = set(params["ids"])
        items = [p for p in items if p["id"] in wanted]
    if "shippable" in params:
        items = [p for p in items if p["shippable"] is params["shippable"]]
    if "url" in params:
        items = [p for p in items if p["url"] == params["url"]]
    items = created_filter(items, params.get("created"))
    return paginate(items, params, "/v1/products", "product")


_LIST = {"limit", "starting_after", "ending_before", "created", "active", "ids", "shippable", "url"}

ROUTES: list[Route] = [
    route("POST", "/v1/products", ProductCreateParams, create, {*_EDITABLE, "id"}),
    route("GET", "/v1/products/{id}", ProductRetrieveParams, retrieve),
    route("POST", "/v1/products/{id}", ProductUpdateParams, update, {*_EDITABLE, "default_price"}),
    route("DELETE", "/v1/products/{id}", ProductDeleteParams, delete),
    route("GET", "/v1/products", ProductListParams, list_, _LIST),
]
