"""``query``, ``queryAll`` and their ``nextRecordsUrl`` pages."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from cpqsync_sandbox.org.errors import OrgError
from cpqsync_sandbox.org.query_engine import execute
from cpqsync_sandbox.org.rest.context import RestContext
from cpqsync_sandbox.org.rest.responses import CONTEXT_KEY, sf_json

_MIN_BATCH = 200


def _batch_size(request: web.Request, default: int) -> int:
    """``Sforce-Query-Options: batchSize=N`` (200..2000), as a real org honours it."""
    options = request.headers.get("Sforce-Query-Options", "")
    match = re.search(r"batchSize\s*=\s*(\d+)", options)
    if not match:
        return default
    return max(_MIN_BATCH, min(default, int(match.group(1))))


def _page(
    ctx: RestContext,
    request: web.Request,
    records: list[dict[str, Any]],
    total: int,
    start: int,
    locator: str | None,
    endpoint: str,
) -> dict[str, Any]:
    size = _batch_size(request, ctx.batch_size)
    end = start + size
    body: dict[str, Any] = {
        "totalSize": total,
        "done": end >= len(records),
        "records": records[start:end],
    }
    if end < len(records):
        if locator is None:
            locator = ctx.cursors.open(records, total)
        version = request.match_info["version"]
        body["nextRecordsUrl"] = f"/services/data/v{version}/{endpoint}/{locator}-{end}"
    return body


async def _run(request: web.Request, *, include_deleted: bool) -> web.Response:
    ctx: RestContext = request.app[CONTEXT_KEY]
    soql = request.query.get("q")
    if soql is None:
        raise OrgError("MALFORMED_QUERY", "A query string has to be specified")
    result = execute(
        ctx.store,
        soql,
        include_deleted=include_deleted,
        api_version=request.match_info["version"],
    )
    endpoint = "queryAll" if include_deleted else "query"
    return sf_json(_page(ctx, request, result.records, result.total_size, 0, None, endpoint))


async def query(request: web.Request) -> web.Response:
    return await _run(request, include_deleted=False)


async def query_all(request: web.Request) -> web.Response:
    return await _run(request, include_deleted=True)


async def query_more(request: web.Request) -> web.Response:
    ctx: RestContext = request.app[CONTEXT_KEY]
    raw = request.match_info["locator"]
    match = re.fullmatch(r"([A-Za-z0-9]+)-(\d+)", raw)
    if match is None:
        raise OrgError("INVALID_QUERY_LOCATOR", "invalid query locator")
    locator, start = match.group(1), int(match.group(2))
    records, total = ctx.cursors.get(locator)
    endpoint = "queryAll" if "/queryAll/" in request.path else "query"
    return sf_json(_page(ctx, request, records, total, start, locator, endpoint))
