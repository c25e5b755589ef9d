"""``GET /v1/events`` and ``GET /v1/events/{id}``: the account's events, newest first,
filtered by ``created`` and ``type``/``types`` (``*`` wildcards as in ``invoice.*``)."""

from __future__ import annotations

import fnmatch
from typing import Any

from stripe.params import EventListParams, EventRetrieveParams

from cpqsync_sandbox.stripe_emulator.errors import exclusive, resource_missing
from cpqsync_sandbox.stripe_emulator.listing import created_filter, paginate
from cpqsync_sandbox.stripe_emulator.routing import Call, Route, route


def retrieve(call: Call) -> dict[str, Any]:
    event_id = call.arg("id")
    event = call.store.events.by_id.get(event_id)
    if event is None:
        raise resource_missing("event", event_id, "id", status=404)
    return event


def list_(call: Call) -> dict[str, Any]:
    params = call.params
    if "type" in params and "types" in params:
        raise exclusive("type", "types")
    items = created_filter(call.store.events.newest_first(), params.get("created"))
    patterns = [params["type"]] if "type" in params else params.get("types")
    if patterns:
        items = [e for e in items if any(fnmatch.fnmatchcase(e["type"], p) for p in patterns)]
    return paginate(items, params, "/v1/events", "event")


ROUTES: list[Route] = [
    route("GET", "/v1/events/{id}", EventRetrieveParams, retrieve),
    route(
        "GET",
        "/v1/events",
        EventListParams,
        list_,
        {"limit", "starting_after", "ending_before", "created", "type", "types"},
    ),
]
