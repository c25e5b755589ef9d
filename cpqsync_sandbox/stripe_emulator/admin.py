"""Admin endpoints under ``/_emulator/``: inspect the request log and objects, reset state,
configure faults, latency, rate limit and idempotency retention; serve hosted invoices.

They mirror the Python API, for tests and demos driving an emulator in another process
(``cpqsync sandbox stripe``). They are not rate limited, faulted or logged.
"""

from __future__ import annotations

import html
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cpqsync_sandbox.stripe_emulator.faults import FaultRule, LatencyConfig

if TYPE_CHECKING:
    from cpqsync_sandbox.stripe_emulator.backend import Backend

PREFIX = "/_emulator"
M = TypeVar("M", bound=BaseModel)


class _Faults(BaseModel):
    model_config = ConfigDict(extra="forbid")
    faults: list[FaultRule]


class _RateLimit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    per_second: int | None = Field(..., ge=1)


class _Retention(BaseModel):
    model_config = ConfigDict(extra="forbid")
    retention_seconds: float = Field(..., ge=0)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


async def _parse(request: web.Request, model: type[M]) -> M:
    try:
        return model.model_validate(json.loads(await request.text() or "{}"))
    except (ValueError, ValidationError) as error:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": str(error)}), content_type="application/json"
        ) from None


def _config(backend: Backend) -> dict[str, Any]:
    return {
        "rate_limit_per_second": backend.limiter.per_second,
        "latency": backend.faults.latency.model_dump(),
        "faults": [{**rule.model_dump(), "fired": rule.fired} for rule in backend.faults.faults],
        "idempotency_retention_seconds": backend.idempotency.retention_seconds,
    }


def add_routes(app: web.Application, backend: Backend) -> None:
    async def health(_: web.Request) -> web.Response:
        return _json({"ok": True})

    async def requests(_: web.Request) -> web.Response:
        return _json({"object": "list", "data": [e.to_dict() for e in backend.request_log()]})

    async def clear_requests(_: web.Request) -> web.Response:
        backend.log.clear()
        return _json({"ok": True})

    async def reset(_: web.Request) -> web.Response:
        backend.reset()
        return _json({"ok": True})

    async def objects(request: web.Request) -> web.Response:
        try:
            found = backend.objects(request.match_info["kind"])
        except ValueError as error:
            return _json({"error": str(error)}, status=404)
        return _json({"object": "list", "data": found})

    async def config(_: web.Request) -> web.Response:
        return _json(_config(backend))

    async def set_faults(request: web.Request) -> web.Response:
        backend.configure_faults((await _parse(request, _Faults)).faults)
        return _json(_config(backend))

    async def clear_faults(_: web.Request) -> web.Response:
        backend.configure_faults([])
        return _json(_config(backend))

    async def set_latency(request: web.Request) -> web.Response:
        backend.set_latency(await _parse(request, LatencyConfig))
        return _json(_config(backend))

    async def set_rate_limit(request: web.Request) -> web.Response:
        backend.set_rate_limit((await _parse(request, _RateLimit)).per_second)
        return _json(_config(backend))

    async def set_retention(request: web.Request) -> web.Response:
        backend.set_idempotency_retention((await _parse(request, _Retention)).retention_seconds)
        return _json(_config(backend))

    async def hosted_invoice(request: web.Request) -> web.Response:
        invoice = backend.store.get("invoice", request.match_info["invoice"])
        if invoice is None or invoice["status"] == "draft":
            raise web.HTTPNotFound(text="No such invoice")
        rows = "".join(
            f"<tr><td>{html.escape(str(line['description']))}</td><td>{line['amount']}</td></tr>"
            for line in invoice["lines"]["data"]
        )
        page = (
            f"<html><body><h1>Invoice {html.escape(str(invoice['number']))}</h1>"
            f"<p>Status: {invoice['status']}</p><table>{rows}</table>"
            f"<p>Amount due: {invoice['amount_due']} {invoice['currency']}</p></body></html>"
        )
        return web.Response(text=page, content_type="text/html")

    app.router.add_get(f"{PREFIX}/health", health)
    app.router.add_get(f"{PREFIX}/requests", requests)
    app.router.add_delete(f"{PREFIX}/requests", clear_requests)
    app.router.add_post(f"{PREFIX}/reset", reset)
    app.router.add_get(f"{PREFIX}/objects/{{kind}}", objects)
    app.router.add_get(f"{PREFIX}/config", config)
    app.router.add_post(f"{PREFIX}/faults", set_faults)
    app.router.add_delete(f"{PREFIX}/faults", clear_faults)
    app.router.add_post(f"{PREFIX}/latency", set_latency)
    app.router.add_post(f"{PREFIX}/rate_limit", set_rate_limit)
    app.router.add_post(f"{PREFIX}/idempotency", set_retention)
    app.router.add_get(f"{PREFIX}/hosted_invoices/{{invoice}}", hosted_invoice)
    app.router.add_get(f"{PREFIX}/hosted_invoices/{{invoice}}/pdf", hosted_invoice)
