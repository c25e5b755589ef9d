"""Single-record sObject resources, describe, versions and limits."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cpqsync_sandbox.org.errors import OrgError, not_found
from cpqsync_sandbox.org.ids import normalize_id
from cpqsync_sandbox.org.oauth import Session
from cpqsync_sandbox.org.rest import describe as describe_payloads
from cpqsync_sandbox.org.rest.context import RestContext
from cpqsync_sandbox.org.rest.record_json import render
from cpqsync_sandbox.org.rest.responses import CONTEXT_KEY, SESSION_KEY, json_object, sf_json
from cpqsync_sandbox.org.schema import ObjectDef, object_def

SUPPORTED_VERSIONS = ("58.0", "59.0", "60.0", "61.0", "62.0", "63.0", "64.0")


def _ctx(request: web.Request) -> RestContext:
    ctx: RestContext = request.app[CONTEXT_KEY]
    return ctx


def _user(request: web.Request) -> str:
    session: Session = request[SESSION_KEY]
    return session.user_id


def _object(request: web.Request) -> ObjectDef:
    obj = object_def(request.match_info["sobject"])
    if obj is None:
        raise not_found()
    return obj


def _record_id(obj: ObjectDef, raw: str) -> str:
    """A path id of this object's type; anything else is read as an unknown external-id field,
    which is what a real org answers for a non-id in that position."""
    canonical = normalize_id(raw)
    if canonical is None or not canonical.startswith(obj.key_prefix):
        raise OrgError(
            "NOT_FOUND",
            f"Provided external ID field does not exist or is not accessible: {raw}",
            status=404,
        )
    return canonical


async def versions(request: web.Request) -> web.Response:
    return sf_json(
        [
            {"label": f"API {v}", "url": f"/services/data/v{v}", "version": v}
            for v in SUPPORTED_VERSIONS
        ]
    )


async def resources(request: web.Request) -> web.Response:
    base = f"/services/data/v{request.match_info['version']}"
    names = ("sobjects", "query", "queryAll", "limits", "composite")
    return sf_json({name: f"{base}/{name}" for name in names})


async def limits(request: web.Request) -> web.Response:
    usage = _ctx(request).usage
    return sf_json(
        {
            "DailyApiRequests": {
                "Max": usage.daily_limit,
                "Remaining": usage.daily_limit - usage.used,
            },
            "DataStorageMB": {"Max": 1024, "Remaining": 1024},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
        }
    )


async def describe_global(request: web.Request) -> web.Response:
    return sf_json(describe_payloads.describe_global(request.match_info["version"]))


async def describe(request: web.Request) -> web.Response:
    return sf_json(describe_payloads.describe(_object(request), request.match_info["version"]))


async def object_info(request: web.Request) -> web.Response:
    obj = _object(request)
    summary = describe_payloads.object_summary(obj, request.match_info["version"])
    return sf_json({"objectDescribe": summary, "recentItems": []})


async def create(request: web.Request) -> web.Response:
    obj = _object(request)
    body = await json_object(request)
    record_id = _ctx(request).store.create(obj.name, body, user_id=_user(request))
    return sf_json({"id": record_id, "success": True, "errors": []}, status=201)


async def get_record(request: web.Request) -> web.Response:
    obj = _object(request)
    ctx = _ctx(request)
    record_id = _record_id(obj, request.match_info["record_id"])
    rec = ctx.store.get(obj.name, record_id)
    return sf_json(render(obj, rec, request.match_info["version"], request.query.get("fields")))


async def update(request: web.Request) -> web.Response:
    obj = _object(request)
    record_id = _record_id(obj, request.match_info["record_id"])
    body = await json_object(request)
    _ctx(request).store.update(obj.name, record_id, body, user_id=_user(request))
    return web.Response(status=204)


async def delete(request: web.Request) -> web.Response:
    obj = _object(request)
    record_id = _record_id(obj, request.match_info["record_id"])
    _ctx(request).store.delete(obj.name, record_id, user_id=_user(request))
    return web.Response(status=204)


def _single_by_external_id(ctx: RestContext, obj: ObjectDef, field: str, value: str) -> str:
    matches = ctx.store.ids_by_external_id(obj.name, field, value)
    if not matches:
        raise not_found()
    if len(matches) > 1:
        raise OrgError(
            "MULTIPLE_CHOICES",
            f"More than one record found for external id field {field} with value {value}",
            [field],
            status=300,
        )
    return matches[0]


async def get_by_ext(request: web.Request) -> web.Response:
    obj = _object(request)
    ctx = _ctx(request)
    field, value = request.match_info["field"], request.match_info["value"]
    record_id = _single_by_external_id(ctx, obj, field, value)
    rec = ctx.store.get(obj.name, record_id)
    return sf_json(render(obj, rec, request.match_info["version"], request.query.get("fields")))


async def upsert(request: web.Request) -> web.Response:
    """201 with ``created: true`` when inserted, 200 with ``created: false`` when updated."""
    obj = _object(request)
    body: dict[str, Any] = await json_object(request)
    field, value = request.match_info["field"], request.match_info["value"]
    record_id, created = _ctx(request).store.upsert(
        obj.name, field, value, body, user_id=_user(request)
    )
    return sf_json(
        {"id": record_id, "success": True, "errors": [], "created": created},
        status=201 if created else 200,
    )
