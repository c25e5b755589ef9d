"""``/v1/webhook_endpoints``: where the account's events are delivered. The signing
secret (``whsec_…``) is shown once, in the answer to the create call, as Stripe does."""

from __future__ import annotations

import secrets
from typing import Any

from stripe._api_version import _ApiVersion
from stripe.params import (
    WebhookEndpointCreateParams,
    WebhookEndpointDeleteParams,
    WebhookEndpointListParams,
    WebhookEndpointRetrieveParams,
    WebhookEndpointUpdateParams,
)

from cpqsync_sandbox.stripe_emulator.errors import invalid
from cpqsync_sandbox.stripe_emulator.listing import paginate
from cpqsync_sandbox.stripe_emulator.metadata import merged
from cpqsync_sandbox.stripe_emulator.routing import Call, Route, route
from cpqsync_sandbox.stripe_emulator.store import base_object, new_id

KIND = "webhook_endpoint"
_EDITABLE = {"url", "enabled_events", "description", "metadata"}


def _check_url(url: str) -> str:
    if not url.startswith(("https://", "http://")):
        raise invalid(f"Invalid URL: {url}. URLs must begin with http or https.", "url")
    return url


def create(call: Call) -> dict[str, Any]:
    params = call.params
    endpoint = base_object(KIND, new_id("we"), call.store.now())
    endpoint.update(
        {
            "api_version": params.get("api_version") or _ApiVersion.CURRENT,
            "application": None,
            "description": params.get("description") or None,
            "enabled_events": list(params["enabled_events"]),
            "metadata": merged(None, params.get("metadata")),
            "status": "enabled",
            "url": _check_url(params["url"]),
            "_secret": "whsec_" + secrets.token_urlsafe(24),
        }
    )
    call.store.add(endpoint)
    return {**endpoint, "secret": endpoint["_secret"]}


def retrieve(call: Call) -> dict[str, Any]:
    return call.store.require(KIND, call.arg("webhook_endpoint"), status=404)


def update(call: Call) -> dict[str, Any]:
    endpoint = call.store.require(KIND, call.arg("webhook_endpoint"), status=404)
    params = call.params
    if "url" in params:
        endpoint["url"] = _check_url(params["url"])
    if "enabled_events" in params:
        endpoint["enabled_events"] = list(params["enabled_events"])
    if "description" in params:
        endpoint["description"] = params["description"] or None
    if "disabled" in params:
        endpoint["status"] = "disabled" if params["disabled"] else "enabled"
    endpoint["metadata"] = merged(endpoint["metadata"], params.get("metadata"))
    return endpoint


def delete(call: Call) -> dict[str, Any]:
    call.store.require(KIND, call.arg("webhook_endpoint"), status=404)
    return call.store.delete(KIND, call.arg("webhook_endpoint"))


def list_(call: Call) -> dict[str, Any]:
    return paginate(
        call.store.newest_first(KIND), call.params, "/v1/webhook_endpoints", "webhook endpoint"
    )


ROUTES: list[Route] = [
    route(
        "POST",
        "/v1/webhook_endpoints",
        WebhookEndpointCreateParams,
        create,
        {*_EDITABLE, "api_version"},
    ),
    route(
        "GET",
        "/v1/webhook_endpoints/{webhook_endpoint}",
        WebhookEndpointRetrieveParams,
        retrieve,
    ),
    route(
        "POST",
        "/v1/webhook_endpoints/{webhook_endpoint}",
        WebhookEndpointUpdateParams,
        update,
        {*_EDITABLE, "disabled"},
    ),
    route(
        "DELETE",
        "/v1/webhook_endpoints/{webhook_endpoint}",
        WebhookEndpointDeleteParams,
        delete,
    ),
    route(
        "GET",
        "/v1/webhook_endpoints",
        WebhookEndpointListParams,
        list_,
        {"limit", "starting_after", "ending_before"},
    ),
]
