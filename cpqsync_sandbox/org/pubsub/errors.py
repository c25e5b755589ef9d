"""Pub/Sub API failures as a real org reports them: a gRPC status, and the ``error-code``
trailer that clients branch on (the status alone is not actionable).

Codes from Salesforce's documentation (see spec/salesforce-pubsub.md): replay id corrupted or
outside retention, replay id validation failed, auth error, service unavailable, delivery
allocation spent. Salesforce documents no trailer for an unknown topic or schema, for a negative
``num_requested``, or for publishing to a change event channel; for those we chose codes in the
same ``sfdc.platform.eventbus.grpc.`` family so clients can still branch on them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import NoReturn

import grpc

_PREFIX = "sfdc.platform.eventbus.grpc."
REPLAY_ID_CORRUPTED = _PREFIX + "subscription.fetch.replayid.corrupted"
REPLAY_ID_VALIDATION_FAILED = _PREFIX + "subscription.fetch.replayid.validation.failed"
AUTH_ERROR = _PREFIX + "service.auth.error"
SERVICE_UNAVAILABLE = _PREFIX + "service.unavailable"
SUBSCRIPTION_LIMIT_EXCEEDED = _PREFIX + "subscription.limit.exceeded"
REQUESTED_EVENTS_INVALID = _PREFIX + "subscription.fetch.requested.events.invalid"
TOPIC_NOT_FOUND = _PREFIX + "topic.not.found"
SCHEMA_NOT_FOUND = _PREFIX + "schema.not.found"
PUBLISH_NOT_ALLOWED = _PREFIX + "publish.not.allowed"

ERROR_CODE_KEY = "error-code"
RPC_ID_KEY = "rpc-id"


@dataclass(frozen=True)
class PubSubFailure:
    """A failure to report: gRPC status, the ``error-code`` trailer, and a message."""

    status: grpc.StatusCode
    error_code: str
    message: str


def new_rpc_id() -> str:
    return str(uuid.uuid4())


def abort(context: grpc.ServicerContext, failure: PubSubFailure, rpc_id: str) -> NoReturn:
    """End the RPC with the failure; the message ends with the rpc id, as Salesforce's do."""
    context.set_trailing_metadata(((ERROR_CODE_KEY, failure.error_code), (RPC_ID_KEY, rpc_id)))
    context.abort(failure.status, f"{failure.message} rpcId: {rpc_id}")
    raise AssertionError("grpc context.abort returned")  # abort always raises
