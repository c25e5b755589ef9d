"""The org's Apex REST resource for amending contracts (``/services/apexrest/...``).

CPQ's own amendment API (``SBQQ.ContractManipulationAPI.ContractAmender`` behind the
``SBQQ/ServiceRouter`` resource) hands back a quote model that the caller edits, saves with the
quote saver and then orders. The simulator does not serve that model; it serves what an org's
admin would write on top of it, one custom Apex REST class:

``POST /services/apexrest/cpqsync/contracts/{contractId}/amendments`` with
``{"startDate": "YYYY-MM-DD", "name": "...", "lines": [{"quantityChange": 2,
"revisedOrderProductId": "802..."} | {"quantityChange": 1, "pricebookEntryId": "01u...",
"unitPrice": 600.0, "billingFrequency": "Monthly"} | {"pricebookEntryId": "01u...",
"unitPrice": 1200.0, "segmentQuantities": [3, 5], "dimensionType": "Year"}]}`` (the last a new
MDQ product, a quantity per segment from the one running on the start date) or
``{"startDate": ..., "cancel": true}``
answers 201 ``{"orderId": "801..."}``: the Draft amendment order CPQ creates (``cpq_actions``),
to be activated like any order.

``POST /services/apexrest/cpqsync/contracts/{contractId}/renewals`` (no body) renews the
contract as CPQ's "Renewal Quoted" does (``renewal_actions``, rule A3) and answers 201
``{"orderId": "801..."}``: the Draft renewal order, starting the day after the contract ends.

Apex REST calls need a session and count against the org's API
requests, as the data API's do. Errors come back in the data API's shape (a list of
``{"errorCode", "message"}``), as an Apex class that lets a DML exception escape answers.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from aiohttp import web

from cpqsync_sandbox.org import cpq_actions, renewal_actions
from cpqsync_sandbox.org.cpq_actions import AmendmentLine, NewMdqProduct
from cpqsync_sandbox.org.errors import OrgError
from cpqsync_sandbox.org.ids import normalize_id
from cpqsync_sandbox.org.rest.context import RestContext
from cpqsync_sandbox.org.rest.responses import CONTEXT_KEY, json_object, sf_json

AMENDMENTS_PATH = "/services/apexrest/cpqsync/contracts/{contract_id}/amendments"
RENEWALS_PATH = "/services/apexrest/cpqsync/contracts/{contract_id}/renewals"


async def amend_contract(request: web.Request) -> web.Response:
    ctx: RestContext = request.app[CONTEXT_KEY]
    contract_id = _contract_id(request)
    body = await json_object(request)
    start = _date(body.get("startDate"))
    name = body.get("name")
    if name is not None and not isinstance(name, str):
        raise OrgError("JSON_PARSER_ERROR", "name must be a string")
    if body.get("cancel") is True:
        order = cpq_actions.cancel_contract(ctx.store, contract_id, start, name=name)
    else:
        lines = body.get("lines")
        if not isinstance(lines, list) or not lines:
            raise OrgError("REQUIRED_FIELD_MISSING", "Required fields are missing: [lines]")
        order = cpq_actions.amend_contract(
            ctx.store, contract_id, start, [_line(line) for line in lines], name=name
        )
    return sf_json({"orderId": order}, status=201)


async def renew_contract(request: web.Request) -> web.Response:
    ctx: RestContext = request.app[CONTEXT_KEY]
    order = renewal_actions.renew_contract(ctx.store, _contract_id(request))
    return sf_json({"orderId": order}, status=201)


def _contract_id(request: web.Request) -> str:
    contract_id = normalize_id(request.match_info["contract_id"])
    if contract_id is None:
        raise OrgError("INVALID_ID_FIELD", f"Invalid id: {request.match_info['contract_id']}")
    return contract_id


def _date(value: Any) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise OrgError(
            "JSON_PARSER_ERROR", f"Cannot deserialize value of type Date from {value!r}"
        ) from None


def _line(raw: Any) -> AmendmentLine | NewMdqProduct:
    if isinstance(raw, dict) and "segmentQuantities" in raw:
        return _mdq_product(raw)
    if not isinstance(raw, dict) or not isinstance(raw.get("quantityChange"), int | float):
        raise OrgError("REQUIRED_FIELD_MISSING", "Required fields are missing: [quantityChange]")
    price = raw.get("unitPrice")
    return AmendmentLine(
        quantity_change=float(raw["quantityChange"]),
        revises=raw.get("revisedOrderProductId"),
        pricebook_entry_id=raw.get("pricebookEntryId"),
        unit_price=float(price) if isinstance(price, int | float) else None,
        billing_frequency=raw.get("billingFrequency") or "Monthly",
    )


def _mdq_product(raw: dict[str, Any]) -> NewMdqProduct:
    quantities = raw.get("segmentQuantities")
    entry, price = raw.get("pricebookEntryId"), raw.get("unitPrice")
    if (
        not isinstance(quantities, list)
        or not all(isinstance(q, int | float) for q in quantities)
        or not isinstance(entry, str)
        or not isinstance(price, int | float)
    ):
        raise OrgError(
            "REQUIRED_FIELD_MISSING",
            "Required fields are missing: [pricebookEntryId, unitPrice, segmentQuantities]",
        )
    return NewMdqProduct(
        entry,
        tuple(float(q) for q in quantities),
        float(price),
        dimension=str(raw.get("dimensionType") or "Year"),
        billing_frequency=raw.get("billingFrequency") or "Monthly",
    )
