"""The `reverse_mappings:` section: which Salesforce fields show which Stripe billing state (B1).

    reverse_mappings:
      Order:
        Stripe_Subscription_Status__c: subscription.status
        Stripe_Latest_Invoice_Amount_Due__c: invoice.amount_due | money
      Account:
        Stripe_Delinquent__c: customer.delinquent

A source path starts at one of the Stripe objects the writeback reads for a record
(``subscription``, its ``invoice`` — the latest — and the ``customer``; an Account sees its
customer only) or at ``billing``, the values derived from them (``billing.next_invoice_date``,
``billing.last_payment_status``, ``billing.last_payment_date``). The field after the root must
be one the stripe library declares on that object; deeper segments are keys or list indexes.
An optional ``| datetime``, ``| date`` or ``| money`` turns Stripe's Unix seconds or minor
units into Salesforce's value. Targets are named ``Stripe_…__c``: the sync ignores change
events that touch only such fields, which is how it ignores the echo of these writes.
Everything is checked when the configuration loads; errors name the offending key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import stripe
from pydantic import BaseModel, ConfigDict, Field, field_validator

# The objects a record's billing state is read from, by the name a path starts with.
STRIPE_ROOTS: Final[dict[str, type]] = {
    "subscription": stripe.Subscription,
    "invoice": stripe.Invoice,
    "customer": stripe.Customer,
}
# The optional object with one record per Stripe invoice, upserted by its Stripe_ID__c.
INVOICE_RECORD: Final = "Stripe_Invoice__c"
DERIVED: Final = frozenset({"next_invoice_date", "last_payment_status", "last_payment_date"})
ROOTS_BY_SOBJECT: Final[dict[str, frozenset[str]]] = {
    "Order": frozenset({"subscription", "invoice", "customer", "billing"}),
    "Account": frozenset({"customer"}),
    INVOICE_RECORD: frozenset({"invoice"}),
}
# Fields of the synced objects are Stripe_…__c (the sync ignores their echo); an invoice
# record is the connector's own object, never synced, so any of its fields will do.
_SYNCED_FIELD = (
    re.compile(r"^Stripe_[A-Za-z0-9_]+__c$"),
    "reverse-sync fields must be named Stripe_…__c (the sync ignores its own writes to such "
    "fields)",
)
TARGET_FIELD: Final[dict[str, tuple[re.Pattern[str], str]]] = {
    "Order": _SYNCED_FIELD,
    "Account": _SYNCED_FIELD,
    INVOICE_RECORD: (re.compile(r"^(Name|[A-Za-z0-9_]+__c)$"), "not a field (Name or …__c)"),
}


class Transform(StrEnum):
    NONE = ""
    DATETIME = "datetime"
    DATE = "date"
    MONEY = "money"


@dataclass(frozen=True)
class SourcePath:
    root: str
    path: tuple[str, ...]
    transform: Transform

    @classmethod
    def parse(cls, text: str, roots: frozenset[str]) -> SourcePath:
        expression, _, transform = (part.strip() for part in text.partition("|"))
        try:
            kind = Transform(transform)
        except ValueError:
            choices = ", ".join(t.value for t in Transform if t.value)
            raise ValueError(f"unknown transform {transform!r} (choose from {choices})") from None
        parts = tuple(expression.split("."))
        if len(parts) < 2 or any(not part for part in parts):
            raise ValueError(f"{expression!r} is not a path like invoice.status")
        root, first = parts[0], parts[1]
        if root not in roots:
            raise ValueError(
                f"{root!r} is not a source here (choose from {', '.join(sorted(roots))})"
            )
        if root == "billing":
            if first not in DERIVED or len(parts) != 2:
                raise ValueError(
                    f"billing.{first} is unknown (choose from {', '.join(sorted(DERIVED))})"
                )
        elif first not in _declared_fields(STRIPE_ROOTS[root]):
            raise ValueError(f"{first!r} is not a field of a Stripe {root}")
        return cls(root, parts[1:], kind)

    def read(self, sources: dict[str, Any]) -> Any:
        """The value at this path in ``sources`` (root name -> object), None where absent."""
        node = sources.get(self.root)
        for part in self.path:
            if isinstance(node, dict):
                node = node.get(part)
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return None
        return node


def _declared_fields(cls: type) -> frozenset[str]:
    names: set[str] = set()
    for klass in cls.__mro__:
        names.update(n for n in getattr(klass, "__annotations__", {}) if not n.startswith("_"))
    return frozenset(names)


DEFAULT_ORDER: Final = {
    "Stripe_Subscription_Status__c": "subscription.status",
    "Stripe_Current_Period_End__c": "subscription.items.data.0.current_period_end | datetime",
    "Stripe_Next_Invoice_Date__c": "billing.next_invoice_date | datetime",
    "Stripe_Latest_Invoice_Number__c": "invoice.number",
    "Stripe_Latest_Invoice_Status__c": "invoice.status",
    "Stripe_Latest_Invoice_Amount_Due__c": "invoice.amount_due | money",
    "Stripe_Latest_Invoice_Amount_Paid__c": "invoice.amount_paid | money",
    "Stripe_Latest_Invoice_URL__c": "invoice.hosted_invoice_url",
    "Stripe_Last_Payment_Status__c": "billing.last_payment_status",
    "Stripe_Last_Payment_Date__c": "billing.last_payment_date | datetime",
}
DEFAULT_ACCOUNT: Final = {"Stripe_Delinquent__c": "customer.delinquent"}
# The reverse_mappings key of each object's block.
_SETTING: Final = {"Order": "Order", "Account": "Account", INVOICE_RECORD: "invoice_records"}
# What the org simulator's Stripe_Invoice__c holds (docs/writeback.md); off unless configured.
INVOICE_RECORD_EXAMPLE: Final = {
    "Name": "invoice.id",
    "Number__c": "invoice.number",
    "Status__c": "invoice.status",
    "Amount_Due__c": "invoice.amount_due | money",
    "Amount_Paid__c": "invoice.amount_paid | money",
    "Hosted_Invoice_URL__c": "invoice.hosted_invoice_url",
    "Due_Date__c": "invoice.due_date | datetime",
    "Paid_At__c": "invoice.status_transitions.paid_at | datetime",
}


def _checked(sobject: str, fields: dict[str, str]) -> dict[str, str]:
    roots = ROOTS_BY_SOBJECT[sobject]
    pattern, rule = TARGET_FIELD[sobject]
    for field, source in fields.items():
        if not pattern.match(field):
            raise ValueError(f"{field}: {rule}")
        try:
            SourcePath.parse(source, roots)
        except ValueError as exc:
            raise ValueError(f"{field}: {exc}") from None
    return fields


class ReverseMappings(BaseModel):
    """Salesforce field <- Stripe source path, per object; a block replaces its defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # The Order a subscription schedule (or one-time invoice) was made for.
    Order: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_ORDER))
    # The Account of the Stripe customer.
    Account: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_ACCOUNT))

    # Stripe_Invoice__c records, one per Stripe invoice (upserted by Stripe_ID__c, linked by
    # Order__c and Account__c); empty: no invoice records.
    invoice_records: dict[str, str] = Field(default_factory=dict)

    @field_validator("invoice_records")
    @classmethod
    def _invoice_record(cls, fields: dict[str, str]) -> dict[str, str]:
        return _checked(INVOICE_RECORD, fields)

    @field_validator("Order")
    @classmethod
    def _order(cls, fields: dict[str, str]) -> dict[str, str]:
        return _checked("Order", fields)

    @field_validator("Account")
    @classmethod
    def _account(cls, fields: dict[str, str]) -> dict[str, str]:
        return _checked("Account", fields)

    def paths(self, sobject: str) -> dict[str, SourcePath]:
        roots = ROOTS_BY_SOBJECT[sobject]
        fields: dict[str, str] = getattr(self, _SETTING[sobject])
        return {field: SourcePath.parse(source, roots) for field, source in fields.items()}
