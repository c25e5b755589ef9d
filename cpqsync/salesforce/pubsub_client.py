"""A gRPC client for Salesforce's Pub/Sub API: subscribe with flow control, cached schemas.

What it guarantees to callers:

- Every call carries ``accesstoken``/``instanceurl``/``tenantid`` from the current
  :class:`~cpqsync.salesforce.auth.SalesforceSession`.
- A subscription never has more than ``batch_size`` (≤ 100) events requested and
  undelivered, and tops up at half, so events keep flowing without a round trip
  per batch and Salesforce's 100-outstanding cap is never hit.
- Failures arrive as :class:`PubSubError` whose ``kind`` says what to do
  (``replay_id_invalid``, ``auth``, ``limit_exceeded``, ``unavailable``, …),
  taken from the ``error-code`` trailer Salesforce sets.
- Schemas are fetched once per ``schema_id``; a new id mid-stream (an admin
  added a field) is one ``GetSchema`` call, no restart.
- The channel sends HTTP/2 keepalive pings: a half-open connection otherwise
  hangs a subscription silently.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import fastavro
import grpc

from cpqsync.salesforce import pubsub_stubs
from cpqsync.salesforce.auth import SalesforceAuth, SalesforceSession
from cpqsync.settings import SalesforceSettings

MAX_OUTSTANDING = 100
# 100 events of at most 1 MB each, plus framing.
_MAX_MESSAGE_BYTES = 110 * 1024 * 1024

ReplayPreset = Literal["LATEST", "EARLIEST", "CUSTOM"]
ErrorKind = Literal["replay_id_invalid", "auth", "limit_exceeded", "unavailable", "closed", "other"]

_KIND_BY_CODE_SUFFIX: dict[str, ErrorKind] = {
    "fetch.replayid.corrupted": "replay_id_invalid",
    "fetch.replayid.validation.failed": "replay_id_invalid",
    "service.auth.error": "auth",
    "subscription.limit.exceeded": "limit_exceeded",
    "service.unavailable": "unavailable",
}


class PubSubError(RuntimeError):
    """A Pub/Sub call failed; ``kind`` classifies it, ``error_code`` is Salesforce's code."""

    def __init__(
        self, message: str, kind: ErrorKind, error_code: str = "", status: str = ""
    ) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.error_code = error_code
        self.status = status


@dataclass(frozen=True)
class EventSchema:
    """A change-event schema as fetched, and its fastavro-parsed form."""

    schema_id: str
    schema_json: str
    definition: dict[str, Any]
    parsed: Any


def classify(error: grpc.RpcError) -> PubSubError:
    """Turn a gRPC failure into a :class:`PubSubError` using the ``error-code`` trailer."""
    status = error.code() if isinstance(error, grpc.Call) else None
    details = (error.details() if isinstance(error, grpc.Call) else None) or ""
    error_code = ""
    if isinstance(error, grpc.Call):
        for key, value in error.trailing_metadata() or ():
            if key == "error-code":
                error_code = value.decode() if isinstance(value, bytes) else str(value)
    kind: ErrorKind = "other"
    for suffix, candidate in _KIND_BY_CODE_SUFFIX.items():
        if error_code.endswith(suffix):
            kind = candidate
            break
    else:
        if status == grpc.StatusCode.UNAUTHENTICATED:
            kind = "auth"
        elif status in (
            grpc.StatusCode.UNAVAILABLE,
            grpc.StatusCode.DEADLINE_EXCEEDED,
            grpc.StatusCode.INTERNAL,
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            grpc.StatusCode.ABORTED,
        ):
            kind = "unavailable"
        elif status == grpc.StatusCode.CANCELLED:
            kind = "closed"
    status_name = status.name if status is not None else "UNKNOWN"
    message = f"Pub/Sub {status_name}"
    if error_code:
        message += f" [{error_code}]"
    if details:
        message += f": {details}"
    return PubSubError(message, kind, error_code, status_name)


class Subscription:
    """One ``Subscribe`` stream: iterate it for ``FetchResponse`` messages; close to stop.

    Flow control is client-side accounting: ``requested - received`` is never
    below what the server still owes, so topping up to ``batch_size`` from it
    can never ask past the cap.
    """

    def __init__(
        self,
        stub: Any,
        pb2: Any,
        metadata: list[tuple[str, str]],
        topic: str,
        preset: ReplayPreset,
        replay_id: bytes | None,
        batch_size: int,
    ) -> None:
        if not 1 <= batch_size <= MAX_OUTSTANDING:
            raise ValueError(f"batch_size must be 1..{MAX_OUTSTANDING}, got {batch_size}")
        if preset == "CUSTOM" and not replay_id:
            raise ValueError("a CUSTOM subscription needs a replay id")
        self._pb2 = pb2
        self._topic = topic
        self._batch = batch_size
        self._requests: queue.Queue[Any] = queue.Queue()
        self._outstanding = 0
        self._closed = threading.Event()
        first = pb2.FetchRequest(
            topic_name=topic,
            replay_preset=getattr(pb2, preset),
            num_requested=batch_size,
        )
        if preset == "CUSTOM":
            first.replay_id = replay_id
        self._outstanding = batch_size
        self._requests.put(first)
        self._call = stub.Subscribe(self._request_stream(), metadata=metadata)

    @property
    def outstanding(self) -> int:
        """Events requested and not yet received, by our own count."""
        return self._outstanding

    def _request_stream(self) -> Iterator[Any]:
        while True:
            request = self._requests.get()
            if request is None:
                return
            yield request

    def _top_up(self) -> None:
        if self._closed.is_set() or self._outstanding > self._batch // 2:
            return
        more = self._batch - self._outstanding
        if more <= 0:
            return
        self._outstanding += more
        self._requests.put(self._pb2.FetchRequest(topic_name=self._topic, num_requested=more))

    def __iter__(self) -> Iterator[Any]:
        try:
            for response in self._call:
                received = len(response.events)
                if received:
                    self._outstanding = max(0, self._outstanding - received)
                elif response.pending_num_requested < self._outstanding:
                    # An idle server owes us less than we think: trust it, or the stream stalls.
                    self._outstanding = response.pending_num_requested
                self._top_up()
                yield response
        except grpc.RpcError as exc:
            if self._closed.is_set():
                return
            raise classify(exc) from None
        if not self._closed.is_set():
            raise PubSubError(f"Pub/Sub closed the {self._topic} stream", "unavailable")

    def close(self) -> None:
        self._closed.set()
        self._requests.put(None)
        self._call.cancel()


class PubSubClient:
    """Pub/Sub calls for one org; thread-safe, one gRPC channel shared by all subscriptions."""

    def __init__(
        self,
        auth: SalesforceAuth,
        settings: SalesforceSettings | None = None,
        keepalive_s: float | None = None,
    ) -> None:
        self._auth = auth
        self._settings = settings or auth.settings
        self._pb2, pb2_grpc = pubsub_stubs.load()
        keepalive_ms = int((keepalive_s or self._settings.pubsub_keepalive_s) * 1000)
        options = [
            ("grpc.keepalive_time_ms", keepalive_ms),
            ("grpc.keepalive_timeout_ms", 20_000),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.max_pings_without_data", 0),
            ("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
        ]
        target = self._settings.pubsub_target
        if self._settings.pubsub_plaintext:
            self._channel = grpc.insecure_channel(target, options=options)
        else:
            root = None
            if self._settings.ca_bundle is not None:
                root = Path(self._settings.ca_bundle).read_bytes()
            credentials = grpc.ssl_channel_credentials(root_certificates=root)
            self._channel = grpc.secure_channel(target, credentials, options=options)
        self._stub = pb2_grpc.PubSubStub(self._channel)
        self._schemas: dict[str, EventSchema] = {}
        self._schema_lock = threading.Lock()
        self.schema_fetches = 0

    @property
    def pb2(self) -> Any:
        return self._pb2

    @property
    def auth(self) -> SalesforceAuth:
        return self._auth

    def metadata(self, session: SalesforceSession | None = None) -> list[tuple[str, str]]:
        current = session or self._auth.session()
        return [
            ("accesstoken", current.access_token.get_secret_value()),
            ("instanceurl", current.instance_url),
            ("tenantid", current.org_id),
        ]

    def get_topic(self, topic: str) -> Any:
        return self._unary(self._stub.GetTopic, self._pb2.TopicRequest(topic_name=topic))

    def schema(self, schema_id: str) -> EventSchema:
        """The schema for ``schema_id``, from cache or one ``GetSchema`` call."""
        cached = self._schemas.get(schema_id)
        if cached is not None:
            return cached
        with self._schema_lock:
            cached = self._schemas.get(schema_id)
            if cached is not None:
                return cached
            info = self._unary(self._stub.GetSchema, self._pb2.SchemaRequest(schema_id=schema_id))
            definition = json.loads(info.schema_json)
            schema = EventSchema(
                schema_id=schema_id,
                schema_json=info.schema_json,
                definition=definition,
                parsed=fastavro.parse_schema(definition),
            )
            self._schemas[schema_id] = schema
            self.schema_fetches += 1
            return schema

    def subscribe(
        self,
        topic: str,
        preset: ReplayPreset = "LATEST",
        replay_id: bytes | None = None,
        batch_size: int = MAX_OUTSTANDING,
        session: SalesforceSession | None = None,
    ) -> Subscription:
        """Open a stream; pass ``session`` to know which one to refresh on an auth error."""
        return Subscription(
            self._stub, self._pb2, self.metadata(session), topic, preset, replay_id, batch_size
        )

    def _unary(self, method: Any, request: Any) -> Any:
        """A unary call, logging in again once if the token was rejected."""
        session = self._auth.session()
        try:
            return method(request, metadata=self.metadata(session), timeout=30)
        except grpc.RpcError as exc:
            error = classify(exc)
            if error.kind != "auth":
                raise error from None
        session = self._auth.refresh(stale=session)
        try:
            return method(request, metadata=self.metadata(session), timeout=30)
        except grpc.RpcError as exc:
            raise classify(exc) from None

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> PubSubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
