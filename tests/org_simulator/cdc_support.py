"""Test helpers for the CDC and Pub/Sub tests: transactions to feed the publisher, a server with
the simulator's own CA-signed certificate, and a Pub/Sub subscriber written with nothing but grpc
and the generated stubs (no project client code), the way a third-party client talks to a real
org."""

from __future__ import annotations

import datetime as dt
import io
import json
import queue
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fastavro
import grpc

from cpqsync.salesforce.pubsub_stubs import load
from cpqsync_sandbox.org.cdc.publisher import ChangePublisher
from cpqsync_sandbox.org.changes import ChangeBatch, RecordChange
from cpqsync_sandbox.org.pubsub.bus import EventBus
from cpqsync_sandbox.org.pubsub.server import PubSubServer
from cpqsync_sandbox.org.schema import OBJECTS
from cpqsync_sandbox.org.tls import generate_server_certificates

TOKEN = "00Dsim!test-session-token"
ORG_ID = "00D000000000001AAA"
INSTANCE_URL = "https://127.0.0.1:8443"
USER_ID = "005000000000001AAA"
METADATA = (("accesstoken", TOKEN), ("instanceurl", INSTANCE_URL), ("tenantid", ORG_ID))


def authenticate(metadata: Any) -> bool:
    return metadata.get("accesstoken") == TOKEN and metadata.get("tenantid") == ORG_ID


def account_id(n: int) -> str:
    return f"001{n:012d}AAA"


@dataclass
class Txn:
    """Builds one committed transaction, the way the store reports it."""

    transaction_key: str = field(default_factory=lambda: uuid.uuid4().hex)
    commit_number: int = 1
    when: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    changes: list[RecordChange] = field(default_factory=list)

    def add(
        self,
        entity: str,
        change_type: str,
        record_id: str,
        values: dict[str, Any],
        *,
        changed: list[str] | None = None,
        nulled: list[str] | None = None,
    ) -> Txn:
        self.changes.append(
            RecordChange(
                entity=entity,
                change_type=change_type,  # type: ignore[arg-type]
                record_id=record_id,
                changed_fields=changed if changed is not None else list(values),
                nulled_fields=nulled or [],
                new_values=values,
                old_values=None,
                transaction_key=self.transaction_key,
                sequence_number=len(self.changes) + 1,
                commit_timestamp=self.when,
                commit_number=self.commit_number,
                commit_user=USER_ID,
            )
        )
        return self

    def batch(self) -> ChangeBatch:
        return ChangeBatch(
            self.transaction_key, self.commit_number, self.when, USER_ID, list(self.changes)
        )


def create_accounts(publisher: ChangePublisher, first: int, count: int) -> list[bytes]:
    """Commit ``count`` single-record transactions creating accounts; returns replay ids."""
    ids: list[bytes] = []
    for n in range(first, first + count):
        txn = Txn().add("Account", "CREATE", account_id(n), {"Name": f"Account {n}"})
        ids.extend(publisher.on_change(txn.batch()))
    return ids


def decode(schema_json: str, payload: bytes) -> dict[str, Any]:
    parsed = fastavro.parse_schema(json.loads(schema_json))
    record: dict[str, Any] = fastavro.schemaless_reader(io.BytesIO(payload), parsed)  # type: ignore[assignment]
    return record


@dataclass
class Org:
    """A bus with every object's schema, its publisher, and a running server."""

    bus: EventBus
    publisher: ChangePublisher
    server: PubSubServer
    channel: grpc.Channel
    stub: Any
    pb2: Any


@contextmanager
def running_org(*, tls: bool = False, keepalive_s: float = 0.3, **server_kw: Any) -> Iterator[Org]:
    pb2, pb2_grpc = load()
    bus = EventBus()
    publisher = ChangePublisher(bus, OBJECTS)
    with tempfile.TemporaryDirectory() as tmp:
        cert = key = ca = None
        if tls:
            certs = generate_server_certificates(Path(tmp), ["127.0.0.1", "localhost"])
            cert, key, ca = certs.server_cert_pem, certs.server_key_pem, certs.ca_cert_pem
        server = PubSubServer(
            bus, "127.0.0.1", 0, cert, key, authenticate, keepalive_s=keepalive_s, **server_kw
        )
        server.start()
        channel = (
            grpc.secure_channel(server.target, grpc.ssl_channel_credentials(root_certificates=ca))
            if tls
            else grpc.insecure_channel(server.target)
        )
        try:
            yield Org(bus, publisher, server, channel, pb2_grpc.PubSubStub(channel), pb2)
        finally:
            channel.close()
            server.stop(grace_s=0)


class Subscriber:
    """A Subscribe stream driven by hand: send FetchRequests, read FetchResponses with timeouts."""

    def __init__(self, org: Org, metadata: Any = METADATA, **first: Any) -> None:
        self._pb2 = org.pb2
        self._requests: queue.Queue[Any] = queue.Queue()
        self._responses: queue.Queue[Any] = queue.Queue()
        self._requests.put(org.pb2.FetchRequest(**first))
        self.call = org.stub.Subscribe(self._outgoing(), metadata=metadata)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _outgoing(self) -> Iterator[Any]:
        while True:
            item = self._requests.get()
            if item is None:
                return
            yield item

    def _read(self) -> None:
        try:
            for response in self.call:
                self._responses.put(response)
            self._responses.put(StopIteration())
        except grpc.RpcError as exc:
            self._responses.put(exc)

    def request(self, n: int) -> None:
        self._requests.put(self._pb2.FetchRequest(num_requested=n))

    def next(self, timeout: float = 5.0) -> Any:
        """The next response; raises the stream's RpcError, or queue.Empty on timeout."""
        item = self._responses.get(timeout=timeout)
        if isinstance(item, BaseException):
            raise item
        return item

    def events(self, count: int, timeout: float = 5.0) -> list[Any]:
        """Read responses until ``count`` events arrived (skipping keepalives)."""
        out: list[Any] = []
        while len(out) < count:
            out.extend(self.next(timeout).events)
        return out

    def error(self, timeout: float = 5.0) -> grpc.RpcError:
        """Read until the stream fails; returns the failure."""
        while True:
            try:
                self.next(timeout)
            except grpc.RpcError as exc:
                return exc

    def close(self) -> None:
        self._requests.put(None)
        self.call.cancel()


def error_code(exc: grpc.RpcError) -> str | None:
    trailers = exc.trailing_metadata() or ()  # type: ignore[attr-defined]
    return dict(trailers).get("error-code")
