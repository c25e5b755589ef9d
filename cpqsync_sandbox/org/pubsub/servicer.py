"""The ``eventbus.v1.PubSub`` service over the simulated org's event bus.

Every call must carry the ``accesstoken``, ``instanceurl`` and ``tenantid`` metadata a real org
requires; the facade's ``authenticate`` callable decides whether they are valid. Change event
channels are subscribe-only: Publish answers with a clear error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import grpc

from cpqsync_sandbox.org.cdc.registry import UnknownSchemaError
from cpqsync_sandbox.org.pubsub.bus import (
    DeliveryAllocationExceededError,
    EventBus,
    ReplayValidationError,
    UnknownTopicError,
)
from cpqsync_sandbox.org.pubsub.errors import (
    AUTH_ERROR,
    PUBLISH_NOT_ALLOWED,
    REPLAY_ID_CORRUPTED,
    REPLAY_ID_VALIDATION_FAILED,
    REQUESTED_EVENTS_INVALID,
    SCHEMA_NOT_FOUND,
    SERVICE_UNAVAILABLE,
    SUBSCRIPTION_LIMIT_EXCEEDED,
    TOPIC_NOT_FOUND,
    PubSubFailure,
    abort,
    new_rpc_id,
)
from cpqsync_sandbox.org.pubsub.flow_control import FlowControl, NegativeRequestError
from cpqsync_sandbox.org.pubsub.outages import UnaryOutages
from cpqsync_sandbox.org.pubsub.replay import CorruptedReplayIdError
from cpqsync_sandbox.org.pubsub.subscription import ActiveStreams, StreamSettings, serve

REQUIRED_METADATA = ("accesstoken", "instanceurl", "tenantid")
Authenticator = Callable[[Mapping[str, str]], bool]
_PRESETS = {0: "LATEST", 1: "EARLIEST", 2: "CUSTOM"}


def _metadata(context: grpc.ServicerContext) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in context.invocation_metadata():
        if isinstance(value, bytes):
            continue  # binary headers are not auth metadata
        out[key.lower()] = value
    return out


_SUBSCRIBE_STATUS: dict[type[Exception], tuple[grpc.StatusCode, str]] = {
    UnknownTopicError: (grpc.StatusCode.NOT_FOUND, TOPIC_NOT_FOUND),
    NegativeRequestError: (grpc.StatusCode.INVALID_ARGUMENT, REQUESTED_EVENTS_INVALID),
    ReplayValidationError: (grpc.StatusCode.INVALID_ARGUMENT, REPLAY_ID_VALIDATION_FAILED),
    CorruptedReplayIdError: (grpc.StatusCode.INVALID_ARGUMENT, REPLAY_ID_CORRUPTED),
    DeliveryAllocationExceededError: (
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        SUBSCRIPTION_LIMIT_EXCEEDED,
    ),
}


_SUBSCRIBE_ERRORS = tuple(_SUBSCRIBE_STATUS)


def _subscribe_failure(exc: Exception) -> PubSubFailure:
    """How a refused subscription is reported, by the reason it was refused."""
    status, code = _SUBSCRIBE_STATUS[type(exc)]
    return PubSubFailure(status, code, str(exc))


class PubSubServicer:
    """Implements the service's RPCs (registered with ``add_PubSubServicer_to_server``)."""

    def __init__(
        self,
        *,
        pb2: Any,
        bus: EventBus,
        authenticate: Authenticator,
        settings: StreamSettings,
        streams: ActiveStreams,
        outages: UnaryOutages | None = None,
    ) -> None:
        self._pb2 = pb2
        self._outages = outages or UnaryOutages()
        self._bus = bus
        self._authenticate = authenticate
        self._settings = settings
        self._streams = streams

    # --- shared checks ----------------------------------------------------------------------

    def _authorize(self, context: grpc.ServicerContext, rpc_id: str) -> dict[str, str]:
        metadata = _metadata(context)
        missing = [key for key in REQUIRED_METADATA if not metadata.get(key)]
        if missing:
            message = f"missing required metadata: {', '.join(missing)}"
        elif not self._authenticate(metadata):
            message = "the session is invalid or expired; log in again"
        else:
            return metadata
        abort(context, PubSubFailure(grpc.StatusCode.UNAUTHENTICATED, AUTH_ERROR, message), rpc_id)

    # --- unary RPCs -------------------------------------------------------------------------

    def GetTopic(self, request: Any, context: grpc.ServicerContext) -> Any:
        rpc_id = new_rpc_id()
        metadata = self._authorize(context, rpc_id)
        try:
            schema_id = self._bus.topic_schema_id(request.topic_name)
        except UnknownTopicError as exc:
            abort(context, _subscribe_failure(exc), rpc_id)
        return self._pb2.TopicInfo(
            topic_name=request.topic_name,
            tenant_guid=metadata["tenantid"],
            can_publish=False,
            can_subscribe=True,
            schema_id=schema_id,
            rpc_id=rpc_id,
        )

    def GetSchema(self, request: Any, context: grpc.ServicerContext) -> Any:
        rpc_id = new_rpc_id()
        self._authorize(context, rpc_id)
        if self._outages.refuses("GetSchema"):
            abort(
                context,
                PubSubFailure(
                    grpc.StatusCode.UNAVAILABLE,
                    SERVICE_UNAVAILABLE,
                    "the service is temporarily unavailable; retry with backoff",
                ),
                rpc_id,
            )
        try:
            schema = self._bus.schemas.by_id(request.schema_id)
        except UnknownSchemaError:
            abort(
                context,
                PubSubFailure(
                    grpc.StatusCode.NOT_FOUND,
                    SCHEMA_NOT_FOUND,
                    f"no schema with id {request.schema_id!r}",
                ),
                rpc_id,
            )
        return self._pb2.SchemaInfo(
            schema_json=schema.schema_json, schema_id=schema.schema_id, rpc_id=rpc_id
        )

    def _refuse_publish(self, topic: str, context: grpc.ServicerContext, rpc_id: str) -> None:
        try:
            self._bus.topic_schema_id(topic)
        except UnknownTopicError as exc:
            abort(context, _subscribe_failure(exc), rpc_id)
        abort(
            context,
            PubSubFailure(
                grpc.StatusCode.PERMISSION_DENIED,
                PUBLISH_NOT_ALLOWED,
                f"topic {topic!r} is a change data capture channel: the org publishes to it, "
                "clients can only subscribe",
            ),
            rpc_id,
        )

    def Publish(self, request: Any, context: grpc.ServicerContext) -> Any:
        rpc_id = new_rpc_id()
        self._authorize(context, rpc_id)
        self._refuse_publish(request.topic_name, context, rpc_id)

    def PublishStream(
        self, request_iterator: Iterator[Any], context: grpc.ServicerContext
    ) -> Iterator[Any]:
        rpc_id = new_rpc_id()
        self._authorize(context, rpc_id)
        first = next(request_iterator, None)
        if first is not None:
            self._refuse_publish(first.topic_name, context, rpc_id)
        return iter(())

    def ManagedSubscribe(
        self, request_iterator: Iterator[Any], context: grpc.ServicerContext
    ) -> Iterator[Any]:
        rpc_id = new_rpc_id()
        self._authorize(context, rpc_id)
        context.abort(
            grpc.StatusCode.UNIMPLEMENTED,
            f"ManagedSubscribe (beta) is not simulated; use Subscribe. rpcId: {rpc_id}",
        )
        raise AssertionError("grpc context.abort returned")

    # --- Subscribe --------------------------------------------------------------------------

    def Subscribe(
        self, request_iterator: Iterator[Any], context: grpc.ServicerContext
    ) -> Iterator[Any]:
        rpc_id = new_rpc_id()
        self._authorize(context, rpc_id)
        first = next(request_iterator, None)
        if first is None:
            return
        flow = FlowControl()
        try:
            flow.request(first.num_requested)
            preset = _PRESETS.get(first.replay_preset)
            if preset is None:
                raise ReplayValidationError(f"unknown replay_preset {first.replay_preset}")
            position = self._bus.start_position(
                first.topic_name,
                preset,  # type: ignore[arg-type]
                first.replay_id,
            )
            self._bus.check_allocation()
        except _SUBSCRIBE_ERRORS as exc:
            abort(context, _subscribe_failure(exc), rpc_id)
        yield from serve(
            pb2=self._pb2,
            bus=self._bus,
            topic=first.topic_name,
            position=position,
            flow=flow,
            requests=request_iterator,
            context=context,
            rpc_id=rpc_id,
            settings=self._settings,
            streams=self._streams,
        )
