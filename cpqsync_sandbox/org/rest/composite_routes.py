"""sObject collections (``/composite/sobjects``): up to 200 records in one transaction.

With ``allOrNone`` a single failure undoes the whole call and every record reports either its
own error or ALL_OR_NONE_OPERATION_ROLLED_BACK; without it, the good records commit together
(one transaction, so one set of change events) and the bad ones report their errors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from cpqsync_sandbox.org.errors import OrgError, not_found
from cpqsync_sandbox.org.ids import normalize_id
from cpqsync_sandbox.org.oauth import Session
from cpqsync_sandbox.org.rest.context import RestContext
from cpqsync_sandbox.org.rest.record_json import render
from cpqsync_sandbox.org.rest.responses import CONTEXT_KEY, SESSION_KEY, json_object, sf_json
from cpqsync_sandbox.org.schema import object_def

MAX_RECORDS = 200
_ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was using "
    "AllOrNone header",
    "fields": [],
}

# An operation returns its result and whether it inserted a record.
Operation = Callable[[], tuple[dict[str, Any], bool]]


class _Rollback(Exception):
    """Raised inside the transaction to undo it when allOrNone is set and a record failed."""


def _ctx(request: web.Request) -> RestContext:
    ctx: RestContext = request.app[CONTEXT_KEY]
    return ctx


def _user(request: web.Request) -> str:
    session: Session = request[SESSION_KEY]
    return session.user_id


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


def _check_size(count: int) -> None:
    if count > MAX_RECORDS:
        raise OrgError(
            "EXCEEDED_ID_LIMIT",
            f"record limit reached. cannot submit more than {MAX_RECORDS} records into this call",
        )


def _run(
    ctx: RestContext, user_id: str, ops: list[tuple[str | None, Operation]], all_or_none: bool
) -> list[dict[str, Any]]:
    """Run each (id known up front, operation); per-record results in request order."""
    results: list[dict[str, Any]] = []
    inserted: list[bool] = []
    failed = False
    try:
        with ctx.store.transaction(user_id) as tx:
            for known_id, op in ops:
                point = tx.savepoint()
                try:
                    result, was_insert = op()
                except OrgError as exc:
                    tx.rollback_to(point)
                    failed = True
                    result = {"id": known_id, "success": False, "errors": [exc.collection_error()]}
                    was_insert = False
                results.append(result)
                inserted.append(was_insert)
            if failed and all_or_none:
                raise _Rollback
    except _Rollback:
        return [
            {
                **r,
                "id": None if was_insert else r["id"],
                "success": False,
                "errors": [_ROLLED_BACK],
                **({"created": False} if "created" in r else {}),
            }
            if r["success"]
            else r
            for r, was_insert in zip(results, inserted, strict=True)
        ]
    return results


def _records(body: dict[str, Any]) -> list[dict[str, Any]]:
    records = body.get("records")
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise OrgError("JSON_PARSER_ERROR", "records must be a list of sObjects")
    _check_size(len(records))
    return records


def _type_of(record: dict[str, Any]) -> str:
    attrs = record.get("attributes")
    name = attrs.get("type") if isinstance(attrs, dict) else None
    if not isinstance(name, str) or object_def(name) is None:
        raise OrgError("INVALID_TYPE", f"sObject type '{name}' is not supported.")
    return name


def _fields(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "attributes"}


async def create_many(request: web.Request) -> web.Response:
    ctx, user = _ctx(request), _user(request)
    body = await json_object(request)
    records = _records(body)

    def make(record: dict[str, Any]) -> Operation:
        def op() -> tuple[dict[str, Any], bool]:
            if "Id" in record or "id" in record:
                raise OrgError("INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])
            new_id = ctx.store.create(_type_of(record), _fields(record), user_id=user)
            return {"id": new_id, "success": True, "errors": []}, True

        return op

    ops: list[tuple[str | None, Operation]] = [(None, make(r)) for r in records]
    return sf_json(_run(ctx, user, ops, _flag(body.get("allOrNone", False))))


async def update_many(request: web.Request) -> web.Response:
    ctx, user = _ctx(request), _user(request)
    body = await json_object(request)
    records = _records(body)

    def make(record: dict[str, Any]) -> tuple[str | None, Operation]:
        raw_id = record.get("Id") or record.get("id")
        known = normalize_id(raw_id) if isinstance(raw_id, str) else None

        def op() -> tuple[dict[str, Any], bool]:
            if known is None:
                raise OrgError(
                    "MALFORMED_ID", f"Record ID: id value of incorrect type: {raw_id}", ["Id"]
                )
            values = {k: v for k, v in _fields(record).items() if k.lower() != "id"}
            ctx.store.update(_type_of(record), known, values, user_id=user)
            return {"id": known, "success": True, "errors": []}, False

        return (known or (raw_id if isinstance(raw_id, str) else None), op)

    ops = [make(r) for r in records]
    return sf_json(_run(ctx, user, ops, _flag(body.get("allOrNone", False))))


async def upsert_many(request: web.Request) -> web.Response:
    ctx, user = _ctx(request), _user(request)
    obj = object_def(request.match_info["sobject"])
    if obj is None:
        raise not_found()
    field = request.match_info["field"]
    body = await json_object(request)
    records = _records(body)

    def make(record: dict[str, Any]) -> Operation:
        def op() -> tuple[dict[str, Any], bool]:
            values = _fields(record)
            ext_field = obj.field(field)
            key = next((k for k in values if k.lower() == field.lower()), None)
            if ext_field is None or key is None or values[key] in (None, ""):
                raise OrgError("MISSING_ARGUMENT", f"{field} not specified", [field])
            record_id, created = ctx.store.upsert(
                obj.name, field, str(values[key]), values, user_id=user
            )
            result = {"id": record_id, "success": True, "errors": [], "created": created}
            return result, created

        return op

    ops: list[tuple[str | None, Operation]] = [(None, make(r)) for r in records]
    return sf_json(_run(ctx, user, ops, _flag(body.get("allOrNone", False))))


async def delete_many(request: web.Request) -> web.Response:
    ctx, user = _ctx(request), _user(request)
    raw_ids = [i for i in request.query.get("ids", "").split(",") if i]
    if not raw_ids:
        raise OrgError("MISSING_ARGUMENT", "ids not specified")
    _check_size(len(raw_ids))

    def make(raw: str) -> tuple[str | None, Operation]:
        def op() -> tuple[dict[str, Any], bool]:
            canonical = normalize_id(raw)
            if canonical is None:
                raise OrgError("MALFORMED_ID", f"malformed id {raw}")
            found = ctx.store.find(canonical)
            if found is None:
                raise OrgError("ENTITY_IS_DELETED", "entity is deleted")
            ctx.store.delete(found[0], canonical, user_id=user)
            return {"id": canonical, "success": True, "errors": []}, False

        return (normalize_id(raw) or raw, op)

    ops = [make(r) for r in raw_ids]
    return sf_json(_run(ctx, user, ops, _flag(request.query.get("allOrNone", "false"))))


async def retrieve_many(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    obj = object_def(request.match_info["sobject"])
    if obj is None:
        raise not_found()
    raw_ids = [i for i in request.query.get("ids", "").split(",") if i]
    fields = request.query.get("fields")
    if not raw_ids or not fields:
        raise OrgError("MISSING_ARGUMENT", "ids and fields are required")
    _check_size(len(raw_ids))
    out: list[dict[str, Any] | None] = []
    for raw in raw_ids:
        canonical = normalize_id(raw)
        rec = ctx.store.peek(obj.name, canonical) if canonical else None
        out.append(render(obj, rec, request.match_info["version"], fields) if rec else None)
    return sf_json(out)
