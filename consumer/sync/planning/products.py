"""Product2 records to Stripe products (rules P1, M1).

Products get a deterministic id from the Product2 id, so creating one is idempotent forever
(not just for Stripe's 24-hour key window) and every plan can name a product without waiting
for a create to return.
"""

from __future__ import annotations

from typing import Any

from consumer.sync.mapping.evaluate import apply_mapping
from consumer.sync.planning.builder import PlanBuilder
from consumer.sync.planning.context import PlanningContext
from consumer.sync.planning.identity import (
    LEGACY_PRODUCT_KEY,
    metadata_key,
    product_id,
    record_metadata,
    stripe_id_of,
)
from consumer.sync.planning.plan import SourceRecord, WriteBack
from consumer.sync.planning.views import ProductView
from cpqsync.mapping.stripe_schema import ENDPOINT_PARAMS, fields_of


def product_operation_id(product2_id: str) -> str:
    return f"product:{product2_id}"


def existing_product_id(product: ProductView, context: PlanningContext) -> str | None:
    """The product this Product2 already has: checked in Stripe, else its Stripe_ID__c when
    that names a product (adopted, K2); one Stripe no longer has is an error."""
    product2_id = product.id
    context.known.check_not_missing("Product2", product2_id, "product")
    known = context.known.products.get(product2_id)
    if known:
        return known
    return stripe_id_of(product.stripe_id, "product")


def stripe_product_id(product: ProductView, context: PlanningContext) -> str:
    """The Stripe id the product has or will have."""
    return existing_product_id(product, context) or product_id(product.id, sandbox=context.sandbox)


def product_params(product: ProductView, context: PlanningContext) -> dict[str, Any]:
    product2_id = product.id
    params: dict[str, Any] = {
        "id": product_id(product2_id, sandbox=context.sandbox),
        "name": product.name or product2_id,
    }
    if product.description:
        params["description"] = product.description
    params["metadata"] = record_metadata("product2", product2_id, context)
    mapping = context.settings.mappings.product
    if not mapping.defaults and not mapping.custom:  # most configurations map nothing here
        return params
    return apply_mapping(params, mapping, {"Product2": product.raw}, label="product").params


def plan_product_sync(
    builder: PlanBuilder,
    product: ProductView,
    context: PlanningContext,
    *,
    update_existing: bool,
) -> str:
    """Create the product if Stripe lacks it (or update it, when asked); return its id."""
    product2_id = product.id
    existing = existing_product_id(product, context)
    if existing is not None and not update_existing:
        return existing  # the usual case for an order line: nothing to plan
    record = SourceRecord("Product2", product2_id)
    operation_id = product_operation_id(product2_id)
    if existing is None:
        builder.add(
            operation_id,
            "product.create",
            product_params(product, context),
            record,
            writeback=(WriteBack(record, "Stripe_ID__c"),),
        )
        return product_id(record.id, sandbox=context.sandbox)
    if update_existing:
        allowed = fields_of(ENDPOINT_PARAMS["product.update"])
        params = {k: v for k, v in product_params(product, context).items() if k in allowed}
        # K1: the key cpqsync wrote before it used the reference's is unset (an empty value
        # removes a metadata key; once gone, this changes nothing).
        legacy = metadata_key(LEGACY_PRODUCT_KEY, sandbox=context.sandbox)
        params["metadata"] = {**params.get("metadata", {}), legacy: ""}
        builder.add(operation_id, "product.update", params, record, target=existing)
    return existing
