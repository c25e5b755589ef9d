"""JSON responses shaped like a real org's, and reading request bodies with its errors."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from cpqsync_sandbox.org.errors import OrgError
from cpqsync_sandbox.org.oauth import Session

CONTEXT_KEY: web.AppKey[Any] = web.AppKey("cpqsync_org_context")
SESSION_KEY: web.RequestKey[Session] = web.RequestKey("cpqsync_org_session", Session)


def sf_json(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(body),
        status=status,
        content_type="application/json",
        charset="UTF-8",
    )


def sf_error(error: OrgError) -> web.Response:
    return sf_json(error.rest_body(), status=error.status)


async def json_body(request: web.Request) -> Any:
    """The parsed JSON body, or JSON_PARSER_ERROR (400) as a real org answers bad JSON."""
    text = await request.text()
    if not text.strip():
        raise OrgError("JSON_PARSER_ERROR", "The request body is empty.")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise OrgError(
            "JSON_PARSER_ERROR",
            f"Unexpected character at [line:{exc.lineno}, column:{exc.colno}]",
        ) from None


async def json_object(request: web.Request) -> dict[str, Any]:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise OrgError(
            "JSON_PARSER_ERROR",
            "Cannot deserialize instance of SObject from START_ARRAY value",
        )
    return body
