"""The demo talks to the org the way an admin's integration user would: REST and SOQL.

It logs in with cpqsync's own OAuth client and uses simple-salesforce, so the
demo exercises the same path a real org would see, and reads outcomes where a
Salesforce user finds them: the order's Stripe fields and its Sync Record.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from simple_salesforce.api import Salesforce

from cpqsync.salesforce.auth import SalesforceAuth
from cpqsync.salesforce.rest import SalesforceRest
from cpqsync.settings import SalesforceSettings
from cpqsync.soql.quoting import quote

MAX_COLLECTION_RECORDS = 200

_ORDERS_SOQL = (
    "SELECT Id, Name, Status, Stripe_ID__c, Stripe_Invoice_Payment_Link__c, "
    "Stripe_Subscription_Status__c, Stripe_Latest_Invoice_Number__c, "
    "Stripe_Latest_Invoice_Status__c, Stripe_Last_Payment_Status__c FROM Order"
)
# The orders' Sync Records: the order's own (no secondary) and its errors, each naming the
# record at fault as secondary: an order line, a pricebook entry, or the order itself (R4).
_ORDER_SYNC_RECORDS_SOQL = (
    "SELECT Primary_Record_ID__c, Secondary_Object_Type__c, Secondary_Record_ID__c, "
    "Resolution_Status__c, Resolution_Message__c, Stripe_Request_Dashboard_Link__c "
    "FROM Sync_Record__c WHERE Primary_Object_Type__c = 'Order' "
    "AND (Secondary_Record_ID__c = null OR Resolution_Status__c = 'Error')"
)


@dataclass(frozen=True)
class ErrorRecord:
    """An Error Sync Record of an order and the record it names at fault (rule R4)."""

    object_type: str
    record_id: str
    message: str

    def describe(self) -> str:
        return f"{self.object_type} {self.record_id}: {self.message}"


@dataclass(frozen=True)
class OrderState:
    """One order as a Salesforce user sees it after the sync."""

    order_id: str
    name: str
    status: str
    stripe_id: str | None
    invoice_payment_link: str | None
    sync_status: str | None  # Error while any record is at fault, else the order's own record
    sync_message: str | None
    sync_request_link: str | None
    errors: tuple[ErrorRecord, ...] = ()
    # Billing state the reverse sync (B1) wrote back from Stripe.
    subscription_status: str | None = None
    latest_invoice_number: str | None = None
    latest_invoice_status: str | None = None
    last_payment_status: str | None = None


@dataclass(frozen=True)
class ContractInfo:
    contract_id: str
    start: dt.date
    currency: str


class ActivationError(RuntimeError):
    """Salesforce refused to activate orders; the message names them and why."""


class OrgClient:
    def __init__(self, settings: SalesforceSettings) -> None:
        self._rest = SalesforceRest(SalesforceAuth(settings))

    def draft_orders(self) -> list[dict[str, Any]]:
        """``Id`` and ``Name`` of every Draft order, oldest first."""
        soql = "SELECT Id, Name FROM Order WHERE Status = 'Draft' ORDER BY CreatedDate, Id"
        return [row for page in self._rest.query_pages(soql) for row in page]

    def activate(self, order_ids: Sequence[str]) -> None:
        """Set Status = Activated, 200 orders per sObject Collections call."""
        refused: list[str] = []
        for start in range(0, len(order_ids), MAX_COLLECTION_RECORDS):
            chunk = order_ids[start : start + MAX_COLLECTION_RECORDS]
            body = {
                "allOrNone": False,
                "records": [
                    {"attributes": {"type": "Order"}, "Id": order_id, "Status": "Activated"}
                    for order_id in chunk
                ],
            }
            answers = self._rest.call(_patch_collection(body))
            for order_id, answer in zip(chunk, answers, strict=True):
                if not answer.get("success"):
                    messages = "; ".join(str(e.get("message")) for e in answer.get("errors", []))
                    refused.append(f"{order_id}: {messages}")
        if refused:
            raise ActivationError("Salesforce refused to activate " + ", ".join(refused))

    def contract_orders(self, order_ids: Sequence[str]) -> dict[str, ContractInfo]:
        """Check CPQ's "Contracted" on activated orders; the Contract CPQ made for each."""
        body = {
            "allOrNone": True,
            "records": [
                {"attributes": {"type": "Order"}, "Id": order_id, "SBQQ__Contracted__c": True}
                for order_id in order_ids
            ],
        }
        self._rest.call(_patch_collection(body))
        ids = ", ".join(quote(i) for i in order_ids)
        soql = f"SELECT Id, ContractId, Contract.StartDate, CurrencyIsoCode FROM Order WHERE Id IN ({ids})"  # noqa: S608, E501
        rows = [row for page in self._rest.query_pages(soql) for row in page]
        return {
            str(row["Id"]): ContractInfo(
                str(row["ContractId"]),
                dt.date.fromisoformat(str(row["Contract"]["StartDate"])),
                str(row.get("CurrencyIsoCode") or "USD"),
            )
            for row in rows
        }

    def order_lines(self, order_id: str) -> dict[str, str]:
        """Product name -> the order's line of that product."""
        soql = f"SELECT Id, Product2.Name FROM OrderItem WHERE OrderId = {quote(order_id)}"  # noqa: S608
        rows = [row for page in self._rest.query_pages(soql) for row in page]
        return {str((r.get("Product2") or {}).get("Name")): str(r["Id"]) for r in rows}

    def pricebook_entry(self, product: str, currency: str) -> str:
        """The active pricebook entry of a product (by name) in a currency."""
        soql = "SELECT Id, Product2.Name, CurrencyIsoCode FROM PricebookEntry WHERE IsActive = true"
        for page in self._rest.query_pages(soql):
            for row in page:
                named = (row.get("Product2") or {}).get("Name")
                if named == product and row.get("CurrencyIsoCode") == currency:
                    return str(row["Id"])
        raise ActivationError(f"no active {currency} pricebook entry for {product!r}")

    def amend_contract(self, contract_id: str, body: dict[str, Any]) -> str:
        """A Draft amendment order, through the org's Apex REST amendment resource."""
        path = f"cpqsync/contracts/{_record_id(contract_id)}/amendments"
        answer = self._rest.call(lambda sf: sf.apexecute(path, method="POST", data=body))
        return str(answer["orderId"])

    def renew_contract(self, contract_id: str) -> str:
        """A Draft renewal order, through the org's Apex REST renewal resource (A3)."""
        path = f"cpqsync/contracts/{_record_id(contract_id)}/renewals"
        answer = self._rest.call(lambda sf: sf.apexecute(path, method="POST"))
        return str(answer["orderId"])

    def order_names(self, order_ids: Sequence[str]) -> dict[str, str]:
        """Order id -> Name (the name CPQ gave an order it made, e.g. a renewal)."""
        if not order_ids:
            return {}
        ids = ", ".join(quote(i) for i in order_ids)
        soql = f"SELECT Id, Name FROM Order WHERE Id IN ({ids})"  # noqa: S608
        rows = [row for page in self._rest.query_pages(soql) for row in page]
        return {str(row["Id"]): str(row["Name"]) for row in rows}

    def draft_order_accounts(self) -> dict[str, str]:
        """Account id -> name, for every account with a Draft order."""
        soql = "SELECT AccountId, Account.Name FROM Order WHERE Status = 'Draft'"
        rows = [row for page in self._rest.query_pages(soql) for row in page]
        return {str(r["AccountId"]): str((r.get("Account") or {}).get("Name")) for r in rows}

    def set_stripe_ids(self, object_type: str, stripe_ids: dict[str, str]) -> None:
        """Set ``Stripe_ID__c`` on records by id, 200 per sObject Collections call."""
        items = list(stripe_ids.items())
        for start in range(0, len(items), MAX_COLLECTION_RECORDS):
            body = {
                "allOrNone": True,
                "records": [
                    {"attributes": {"type": object_type}, "Id": record_id, "Stripe_ID__c": value}
                    for record_id, value in items[start : start + MAX_COLLECTION_RECORDS]
                ],
            }
            self._rest.call(_patch_collection(body))

    def order_states(self) -> dict[str, OrderState]:
        """Every order with its own Sync Record and its Error records, by order id."""
        own: dict[str, dict[str, Any]] = {}
        errors: dict[str, list[dict[str, Any]]] = {}
        for page in self._rest.query_pages(_ORDER_SYNC_RECORDS_SOQL):
            for row in page:
                order = _id15(str(row["Primary_Record_ID__c"]))
                if row.get("Resolution_Status__c") == "Error":
                    errors.setdefault(order, []).append(row)
                else:
                    own[order] = row
        states: dict[str, OrderState] = {}
        for page in self._rest.query_pages(_ORDERS_SOQL):
            for row in page:
                key = _id15(str(row["Id"]))
                faults = tuple(_error_record(e, str(row["Id"])) for e in errors.get(key, ()))
                record = errors[key][0] if faults else own.get(key, {})
                states[str(row["Id"])] = OrderState(
                    order_id=str(row["Id"]),
                    name=str(row["Name"]),
                    status=str(row["Status"]),
                    stripe_id=row.get("Stripe_ID__c"),
                    invoice_payment_link=row.get("Stripe_Invoice_Payment_Link__c"),
                    sync_status=record.get("Resolution_Status__c"),
                    sync_message="; ".join(f.describe() for f in faults)
                    if faults
                    else record.get("Resolution_Message__c"),
                    sync_request_link=record.get("Stripe_Request_Dashboard_Link__c"),
                    errors=faults,
                    subscription_status=row.get("Stripe_Subscription_Status__c"),
                    latest_invoice_number=row.get("Stripe_Latest_Invoice_Number__c"),
                    latest_invoice_status=row.get("Stripe_Latest_Invoice_Status__c"),
                    last_payment_status=row.get("Stripe_Last_Payment_Status__c"),
                )
        return states


def _error_record(row: dict[str, Any], order_id: str) -> ErrorRecord:
    """An error without a secondary (a connector error) is the order's own."""
    return ErrorRecord(
        str(row.get("Secondary_Object_Type__c") or "Order"),
        str(row.get("Secondary_Record_ID__c") or order_id),
        str(row.get("Resolution_Message__c") or ""),
    )


def _record_id(record_id: str) -> str:
    """A record id, refused unless it is one (it goes into a URL)."""
    if not record_id.isalnum() or len(record_id) not in (15, 18):
        raise ValueError(f"not a Salesforce id: {record_id!r}")
    return record_id


def _id15(record_id: str) -> str:
    """Sync Records may hold 15- or 18-character ids; the first 15 identify the record."""
    return record_id[:15]


def _patch_collection(body: dict[str, Any]) -> Any:
    def call(sf: Salesforce) -> Any:
        return sf.restful("composite/sobjects", method="PATCH", json=body)

    return call
