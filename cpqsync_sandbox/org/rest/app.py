"""The aiohttp application: middlewares (request log, errors, auth, API limits) and routes.

Routes are registered with and without a trailing slash because simple-salesforce requests
``…/query/`` and ``…/describe/`` while other clients omit the slash; a redirect would break
POST and PATCH.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from cpqsync_sandbox.org.errors import OrgError
from cpqsync_sandbox.org.oauth import OAuthError
from cpqsync_sandbox.org.rest import (
    apex_routes,
    auth_routes,
    bulk_routes,
    composite_routes,
    query_routes,
    sobject_routes,
)
from cpqsync_sandbox.org.rest.context import RequestLogEntry, RestContext
from cpqsync_sandbox.org.rest.responses import CONTEXT_KEY, SESSION_KEY, sf_error, sf_json

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_DATA = "/services/data/v{version:\\d+\\.\\d+}"


@web.middleware
async def _log_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    ctx: RestContext = request.app[CONTEXT_KEY]
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        ctx.request_log.append(
            RequestLogEntry(request.method, request.path, request.query_string, status)
        )


@web.middleware
async def _render_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except OrgError as exc:
        return sf_error(exc)
    except OAuthError as exc:
        return sf_json(exc.body(), status=exc.status)
    except web.HTTPNotFound:
        return sf_error(OrgError("NOT_FOUND", "The requested resource does not exist", status=404))
    except web.HTTPMethodNotAllowed as exc:
        return sf_error(
            OrgError(
                "METHOD_NOT_ALLOWED",
                f"HTTP Method '{request.method}' not allowed. Allowed are "
                f"{','.join(sorted(exc.allowed_methods))}",
                status=405,
            )
        )
    except web.HTTPException:
        raise
    except Exception:  # a simulator bug must still answer in Salesforce's shape
        log.exception("org simulator failed on %s %s", request.method, request.path)
        return sf_error(OrgError("UNKNOWN_EXCEPTION", "An unexpected error occurred.", status=500))


@web.middleware
async def _service_status(request: web.Request, handler: Handler) -> web.StreamResponse:
    """During an outage (maintenance, an incident) the instance answers 503 to everything."""
    ctx: RestContext = request.app[CONTEXT_KEY]
    if ctx.unavailable:
        raise OrgError(
            "SERVER_UNAVAILABLE",
            "The server is temporarily unable to service your request. Please try again later.",
            status=503,
        )
    return await handler(request)


@web.middleware
async def _authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Data API, Apex REST and identity calls need a live session; the first two count against
    API limits."""
    ctx: RestContext = request.app[CONTEXT_KEY]
    path = request.path.rstrip("/")
    counted = path.startswith(("/services/data/v", "/services/apexrest/"))
    protected = counted or path.startswith(("/services/oauth2/userinfo", "/id/"))
    if not protected:
        return await handler(request)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    session = (
        ctx.issuer.sessions.check(token.strip()) if scheme.lower() in ("bearer", "oauth") else None
    )
    if session is None:
        raise OrgError("INVALID_SESSION_ID", "Session expired or invalid", status=401)
    request[SESSION_KEY] = session
    if counted:
        ctx.usage.consume()
    response = await handler(request)
    response.headers["Sforce-Limit-Info"] = ctx.usage.header()
    return response


def _route(app: web.Application, method: str, path: str, handler: Handler) -> None:
    app.router.add_route(method, path, handler)
    app.router.add_route(method, path + "/", handler)


def build_app(ctx: RestContext) -> web.Application:
    app = web.Application(
        middlewares=[_log_requests, _render_errors, _service_status, _authenticate],
        client_max_size=32 * 1024 * 1024,
    )
    app[CONTEXT_KEY] = ctx
    _route(app, "POST", "/services/oauth2/token", auth_routes.token)
    _route(app, "GET", "/services/oauth2/userinfo", auth_routes.userinfo)
    _route(app, "POST", "/services/oauth2/userinfo", auth_routes.userinfo)
    _route(app, "GET", "/id/{org_id}/{user_id}", auth_routes.identity)
    _route(app, "POST", "/services/Soap/u/{version}", auth_routes.soap_login)
    _route(app, "GET", "/services/data", sobject_routes.versions)
    _route(app, "GET", _DATA, sobject_routes.resources)
    _route(app, "GET", _DATA + "/limits", sobject_routes.limits)
    _route(app, "GET", _DATA + "/query", query_routes.query)
    _route(app, "GET", _DATA + "/queryAll", query_routes.query_all)
    _route(app, "GET", _DATA + "/query/{locator}", query_routes.query_more)
    _route(app, "GET", _DATA + "/queryAll/{locator}", query_routes.query_more)
    _route(app, "GET", _DATA + "/sobjects", sobject_routes.describe_global)
    _route(app, "GET", _DATA + "/sobjects/{sobject}", sobject_routes.object_info)
    _route(app, "POST", _DATA + "/sobjects/{sobject}", sobject_routes.create)
    _route(app, "GET", _DATA + "/sobjects/{sobject}/describe", sobject_routes.describe)
    _route(app, "GET", _DATA + "/sobjects/{sobject}/{record_id}", sobject_routes.get_record)
    _route(app, "PATCH", _DATA + "/sobjects/{sobject}/{record_id}", sobject_routes.update)
    _route(app, "DELETE", _DATA + "/sobjects/{sobject}/{record_id}", sobject_routes.delete)
    _route(app, "GET", _DATA + "/sobjects/{sobject}/{field}/{value}", sobject_routes.get_by_ext)
    _route(app, "PATCH", _DATA + "/sobjects/{sobject}/{field}/{value}", sobject_routes.upsert)
    _route(app, "POST", _DATA + "/composite/sobjects", composite_routes.create_many)
    _route(app, "PATCH", _DATA + "/composite/sobjects", composite_routes.update_many)
    _route(app, "DELETE", _DATA + "/composite/sobjects", composite_routes.delete_many)
    _route(app, "GET", _DATA + "/composite/sobjects/{sobject}", composite_routes.retrieve_many)
    _route(
        app, "PATCH", _DATA + "/composite/sobjects/{sobject}/{field}", composite_routes.upsert_many
    )
    _route(app, "POST", _DATA + "/jobs/query", bulk_routes.create_job)
    _route(app, "GET", _DATA + "/jobs/query", bulk_routes.list_jobs)
    _route(app, "GET", _DATA + "/jobs/query/{job_id}", bulk_routes.job_info)
    _route(app, "PATCH", _DATA + "/jobs/query/{job_id}", bulk_routes.update_job)
    _route(app, "DELETE", _DATA + "/jobs/query/{job_id}", bulk_routes.delete_job)
    _route(app, "GET", _DATA + "/jobs/query/{job_id}/results", bulk_routes.results)
    _route(app, "POST", apex_routes.AMENDMENTS_PATH, apex_routes.amend_contract)
    _route(app, "POST", apex_routes.RENEWALS_PATH, apex_routes.renew_contract)
    return app
