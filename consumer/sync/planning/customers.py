"""Accounts to Stripe customers (rules C1, M1).

A customer is created for an Account the first time one of its orders (or the account itself)
syncs, and updated with the account's current data on every later sync, so edits in Salesforce
reach Stripe without a separate trigger. Only the Account's own root sends the update: an
order's sync asks it to (``consumer.sync.root_asks``), so a customer has one writer.
"""

from __future__ import annotations

from typing import Any

from consumer.sync.mapping.data_error import DataError
from consumer.sync.mapping.evaluate import apply_mapping
from consumer.sync.planning.builder import PlanBuilder
from consumer.sync.planning.context import PlanningContext
from consumer.sync.planning.identity import metadata_key, record_metadata, stripe_id_of
from consumer.sync.planning.plan import SourceRecord, WriteBack, ref
from consumer.sync.planning.problems import StripeStateError
from consumer.sync.planning.views import AccountView, Address
from cpqsync.mapping.stripe_schema import ENDPOINT_PARAMS, fields_of

CUSTOMER_OPERATION = "customer"
DESCRIPTION_LIMIT = 350
SHIPPING_PHONE_LIMIT = 20
# A version token cpqsync once kept in the customer's metadata (K1: bookkeeping of ours has no
# place there). Updates unset it; once gone, that changes nothing.
LEGACY_VERSION_KEY = "salesforce_account_modstamp"


def _address(address: Address) -> dict[str, str]:
    """Stripe's address block from a Salesforce compound address; street lines split."""
    out: dict[str, str] = {}
    if address.street:
        lines = [line.strip() for line in address.street.splitlines() if line.strip()]
        out["line1"] = lines[0]
        if len(lines) > 1:
            out["line2"] = ", ".join(lines[1:])
    for value, key in (
        (address.city, "city"),
        (address.state, "state"),
        (address.postal_code, "postal_code"),
        (address.country, "country"),
    ):
        if value:
            out[key] = value
    return out


def customer_params(account: AccountView, context: PlanningContext) -> dict[str, Any]:
    """Automatic mappings (M1), then the configured defaults and custom mappings (M3, M4)."""
    params: dict[str, Any] = {}
    for value, key in (
        (account.name, "name"),
        (account.phone, "phone"),
        (account.description, "description"),
    ):
        if value:
            params[key] = value
    address = _address(account.billing_address)
    if address:
        params["address"] = address
    shipping_address = _address(account.shipping_address)
    if shipping_address:
        # No shipping block at all when the account has no shipping address (C1).
        shipping: dict[str, Any] = {"address": shipping_address, "name": params.get("name", "")}
        if "phone" in params:
            shipping["phone"] = params["phone"]
        params["shipping"] = shipping
    params["metadata"] = record_metadata("account", account.id, context)
    mapped = apply_mapping(
        params,
        context.settings.mappings.customer,
        {"Account": account.raw},
        label="customer",
    ).params
    _truncate(mapped)
    return mapped


def _truncate(params: dict[str, Any]) -> None:
    # Stripe's limits on these two fields would fail the whole request (M1).
    description = params.get("description")
    if isinstance(description, str) and len(description) > DESCRIPTION_LIMIT:
        params["description"] = description[:DESCRIPTION_LIMIT]
    shipping = params.get("shipping")
    if isinstance(shipping, dict):
        phone = shipping.get("phone")
        if isinstance(phone, str) and len(phone) > SHIPPING_PHONE_LIMIT:
            shipping["phone"] = phone[:SHIPPING_PHONE_LIMIT]


def existing_customer_id(account: AccountView, context: PlanningContext) -> str | None:
    """The customer this Account already has, if any (C1).

    A checked entry in the context wins; otherwise Account.Stripe_ID__c counts when it looks like
    a customer id — anything else was set by hand by mistake and is replaced.
    """
    account_id = account.id
    context.known.check_not_missing("Account", account_id, "customer")  # K2
    known = context.known.customers.get(account_id)
    if known is not None:
        if known.deleted:
            raise StripeStateError(
                "C1",
                f"During sync we tried to use customer {known.id} but found that it was "
                f"deleted. Account {account_id} names it in Stripe_ID__c; clear that field "
                "to create a new customer.",
            )
        return known.id
    return stripe_id_of(account.stripe_id, "customer")


def check_currency(account: AccountView, context: PlanningContext, currency: str) -> None:
    """Rule S5: a Stripe customer bills in one currency; no conversion is attempted."""
    known = context.known.customers.get(account.id)
    if known is not None and known.currency and known.currency.lower() != currency:
        # Stripe's own words first (it refuses such a schedule the same way), then ours.
        raise DataError(
            "S5",
            f"The currency of the selected prices ({currency}) does not match the customer "
            f"currency ({known.currency.lower()}). Customer {known.id} already has "
            f"subscriptions or invoices in {known.currency.upper()} and a Stripe customer bills "
            "in one currency; no conversion is made.",
        )


def plan_customer(
    builder: PlanBuilder,
    account: AccountView,
    context: PlanningContext,
    *,
    currency: str | None = None,
) -> str | dict[str, str]:
    """Add the create or update of the account's customer; return its id or a placeholder."""
    record = SourceRecord("Account", account.id)
    existing = existing_customer_id(account, context)
    if currency is not None:
        check_currency(account, context, currency)
    params = customer_params(account, context)
    if existing is not None:
        allowed = fields_of(ENDPOINT_PARAMS["customer.update"])
        update = {k: v for k, v in params.items() if k in allowed}
        legacy = metadata_key(LEGACY_VERSION_KEY, sandbox=context.sandbox)
        update["metadata"] = {**update.get("metadata", {}), legacy: ""}
        builder.add(CUSTOMER_OPERATION, "customer.update", update, record, target=existing)
        return existing
    # One customer per account, ever (C1): the create key names the account only, so roots
    # creating it at once from different versions of the account (the Account's own, an
    # order's) cannot make two; the loser gets Stripe's idempotency_error and re-plans.
    builder.add(
        CUSTOMER_OPERATION,
        "customer.create",
        params,
        record,
        writeback=(WriteBack(record, "Stripe_ID__c"),),
        key_params={},
    )
    return ref(CUSTOMER_OPERATION)
