"""The HTTP face of the emulator: one aiohttp handler that runs each request through
Stripe's pipeline — authentication, rate limit, latency and faults, idempotency,
parameter validation, the endpoint, the response headers Stripe sends."""

from __future__ import annotations

import asyncio
import random
import string
import time
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from stripe._api_version import _ApiVersion

from cpqsync_sandbox.stripe_emulator import admin
from cpqsync_sandbox.stripe_emulator.backend import Backend
from cpqsync_sandbox.stripe_emulator.change_watch import watch
from cpqsync_sandbox.stripe_emulator.errors import StripeApiError, not_implemented
from cpqsync_sandbox.stripe_emulator.faults import FaultRule
from cpqsync_sandbox.stripe_emulator.form_decoding import parse_pairs
from cpqsync_sandbox.stripe_emulator.idempotency import StoredResponse, fingerprint
from cpqsync_sandbox.stripe_emulator.render import render, to_json
from cpqsync_sandbox.stripe_emulator.request_log import RequestLogEntry
from cpqsync_sandbox.stripe_emulator.routing import Call
from cpqsync_sandbox.stripe_emulator.validation import validate

BACKEND_KEY = web.AppKey("backend", Backend)
MAX_IDEMPOTENCY_KEY = 255
_ID_ALPHABET = string.ascii_letters + string.digits


def new_request_id() -> str:
    return "req_" + "".join(random.choices(_ID_ALPHABET, k=14))


@dataclass
class _Outcome:
    status: int
    body: bytes
    replayed: bool = False
    original_request: str | None = None
    should_retry: bool | None = None


@dataclass
class _After:
    """A request that ran before its injected fault struck."""

    backend: Backend
    api_key: str
    key: str | None
    outcome: _Outcome
    request_id: str


class _Dropped(Exception):
    """The request ends without a response (an injected drop or timeout)."""


@dataclass
class _Trace:
    """What the request log needs, filled in as soon as it is known (a held request may be
    cancelled before it returns)."""

    raw: dict[str, Any] = field(default_factory=dict)
    fault: FaultRule | None = None


def _authenticate(request: web.Request, expired: set[str]) -> str:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        raise StripeApiError(
            401,
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth "
            "(e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
        )
    key = header[len("Bearer ") :].strip()
    if not key.startswith("sk_test_") or len(key) <= len("sk_test_"):
        # Never echo a key: show its last four characters only, as Stripe does.
        raise StripeApiError(401, f"Invalid API Key provided: {key[:3]}*********{key[-4:]}")
    if key in expired:
        raise StripeApiError(
            401, f"Expired API Key provided: {key[:8]}*********{key[-4:]}", code="api_key_expired"
        )
    return key


def _error(error: StripeApiError, request_id: str) -> _Outcome:
    return _Outcome(error.status, to_json(error.body(request_id)), should_retry=error.should_retry)


def _drop(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()


async def handle(request: web.Request) -> web.StreamResponse:
    backend = request.app[BACKEND_KEY]
    started = time.perf_counter()
    request_id = new_request_id()
    method, path = request.method, request.path
    body = await request.text() if method == "POST" else request.query_string
    key = request.headers.get("Idempotency-Key") if method in ("POST", "DELETE") else None
    trace = _Trace()
    outcome: _Outcome | None = None
    try:
        outcome = await _run(request, backend, request_id, body, key, trace)
    except _Dropped:
        pass
    finally:
        # Also reached when the client gives up on a held (timeout) request and aiohttp
        # cancels the handler: the log still shows the attempt, with status 0.
        backend.log.append(
            RequestLogEntry(
                method=method,
                path=path,
                params=trace.raw,
                idempotency_key=key,
                status=outcome.status if outcome else 0,
                latency_ms=round((time.perf_counter() - started) * 1000, 3),
                request_id=request_id,
                replayed=bool(outcome and outcome.replayed),
                fault=trace.fault.kind if trace.fault else None,
            )
        )
    if outcome is None:
        _drop(request)
        return web.Response(status=500)  # never reaches the client: the connection is gone
    headers = {
        "Request-Id": request_id,
        "Stripe-Version": request.headers.get("Stripe-Version", _ApiVersion.CURRENT),
    }
    if key is not None:
        headers["Idempotency-Key"] = key
    if outcome.replayed:
        headers["Idempotent-Replayed"] = "true"
        headers["Original-Request"] = outcome.original_request or request_id
    if outcome.should_retry is not None:
        headers["Stripe-Should-Retry"] = "true" if outcome.should_retry else "false"
    return web.Response(
        status=outcome.status, body=outcome.body, headers=headers, content_type="application/json"
    )


async def _run(
    request: web.Request,
    backend: Backend,
    request_id: str,
    body: str,
    key: str | None,
    trace: _Trace,
) -> _Outcome:
    method, path = request.method, request.path
    try:
        api_key = _authenticate(request, backend.expired_keys)
        pairs = parse_qsl(body, keep_blank_values=True)
        raw = trace.raw = parse_pairs(pairs)
        if not backend.limiter.allow(api_key):
            raise StripeApiError(
                429,
                "Request rate limit exceeded. You can learn more about rate limits here "
                "https://stripe.com/docs/rate-limits.",
                type_="rate_limit_error",
                code="rate_limit",
            )
        if key is not None and len(key) > MAX_IDEMPOTENCY_KEY:
            raise StripeApiError(
                400,
                f"Invalid Idempotency-Key: must be at most {MAX_IDEMPOTENCY_KEY} characters.",
                type_="idempotency_error",
            )
    except StripeApiError as error:
        return _error(error, request_id)
    delay = backend.faults.latency.sample_seconds()
    if delay > 0:
        await asyncio.sleep(delay)
    fault = trace.fault = backend.faults.pick(method, path)
    if fault is not None and fault.stage == "before":
        return await _inject(fault, None)
    failing = _injected_error(fault) if fault is not None and fault.stage == "during" else None
    outcome = _idempotent(backend, api_key, key, method, path, pairs, raw, request_id, failing)
    if fault is not None and fault.stage == "after":
        after = _After(backend, api_key, key, outcome, request_id)
        return await _inject(fault, after)
    return outcome


async def _inject(fault: FaultRule, after: _After | None) -> _Outcome:
    if fault.kind == "timeout":
        await asyncio.sleep(fault.hold_seconds)
        raise _Dropped
    if fault.kind == "drop":
        raise _Dropped
    error = _injected_error(fault)
    if after is None:
        return _error(error, new_request_id())
    outcome = _error(error, after.request_id)
    if after.key is not None and not after.outcome.replayed:
        # The endpoint ran; Stripe now replays the 500 it answered for this key.
        stored = after.backend.idempotency.lookup(after.api_key, after.key)
        if stored is not None:
            after.backend.idempotency.finish(
                after.api_key, after.key, replace(stored, status=outcome.status, body=outcome.body)
            )
    return outcome


def _injected_error(fault: FaultRule) -> StripeApiError:
    return StripeApiError(
        fault.status,
        "An unknown error occurred (injected by the Stripe emulator).",
        type_="api_error",
        should_retry=fault.retry_header(),
    )


def _idempotent(
    backend: Backend,
    api_key: str,
    key: str | None,
    method: str,
    path: str,
    pairs: list[tuple[str, str]],
    raw: dict[str, Any],
    request_id: str,
    failing: StripeApiError | None = None,
) -> _Outcome:
    """``failing``: an injected error the endpoint fails with once it began (stored)."""
    if key is None:
        outcome, _ = _execute(backend, method, path, raw, request_id, failing)
        return outcome
    print_ = fingerprint(method, path, pairs)
    stored = backend.idempotency.lookup(api_key, key)
    if stored is not None:
        endpoint = f"{method} {path}"
        if stored.endpoint != endpoint:
            return _error(
                StripeApiError(
                    400,
                    f"Keys for idempotent requests can only be used for the same endpoint they "
                    f"were first used for ('{stored.endpoint}' vs '{endpoint}'). Try using a key "
                    f"other than '{key}' if you meant to execute a different request.",
                    type_="idempotency_error",
                ),
                request_id,
            )
        if stored.fingerprint != print_:
            return _error(
                StripeApiError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters they "
                    f"were first used with. Try using a key other than '{key}' if you meant to "
                    "execute a different request.",
                    type_="idempotency_error",
                ),
                request_id,
            )
        return _Outcome(
            stored.status, stored.body, replayed=True, original_request=stored.request_id
        )
    if not backend.idempotency.begin(api_key, key):
        return _error(
            StripeApiError(
                409,
                "There is currently another in-progress request using this Idempotent Key "
                "(that probably means you submitted twice, and the other request is still going "
                f"through): {key}. Please try again later.",
                type_="idempotency_error",
                should_retry=True,
            ),
            request_id,
        )
    outcome, executed = _execute(backend, method, path, raw, request_id, failing)
    stored_response = None
    if executed:
        stored_response = StoredResponse(
            fingerprint=print_,
            endpoint=f"{method} {path}",
            status=outcome.status,
            body=outcome.body,
            request_id=request_id,
        )
    backend.idempotency.finish(api_key, key, stored_response)
    return outcome


def _execute(
    backend: Backend,
    method: str,
    path: str,
    raw: dict[str, Any],
    request_id: str,
    failing: StripeApiError | None = None,
) -> tuple[_Outcome, bool]:
    """Run the endpoint. The flag says whether execution started (so the result is stored
    under an idempotency key): validation failures and unknown endpoints store nothing.
    ``failing`` is an error the endpoint fails with as it begins, having changed nothing."""
    found = backend.router.match(method, path)
    if found is None:
        return _error(not_implemented(f"{method} {path}"), request_id), False
    route, path_args = found
    try:
        params = validate(backend.schemas[route.params_type], raw)
        unsupported = route.unsupported(params)
        if unsupported:
            raise not_implemented(f"the parameter {unsupported[0]} on {method} {route.pattern}")
    except StripeApiError as error:
        return _error(error, request_id), False
    if failing is not None:
        return _error(failing, request_id), True
    call = Call(params, path_args, backend.store, backend.base_url, path)
    try:
        if method == "GET":
            result = route.handler(call)
        else:
            with watch(backend.store, path_args.values()):
                result = route.handler(call)
        body = render(result, params.get("expand", []), backend.store)
    except StripeApiError as error:
        return _error(error, request_id), True
    return _Outcome(200, to_json(body)), True


def build_app(backend: Backend) -> web.Application:
    app = web.Application(client_max_size=2 * 1024 * 1024)
    app[BACKEND_KEY] = backend
    admin.add_routes(app, backend)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app
