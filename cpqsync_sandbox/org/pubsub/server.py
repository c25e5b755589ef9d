"""The gRPC server that exposes the org's event bus as ``eventbus.v1.PubSub``.

TLS with the certificate the facade generated (as ``api.pubsub.salesforce.com:7443`` is TLS
only), or plaintext for debugging. HTTP/2 keepalive pings from clients are allowed, since the
spec tells clients to send them. Fault hooks let tests break live streams the way a real
service does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent import futures

import grpc

from cpqsync.salesforce.pubsub_stubs import load
from cpqsync_sandbox.org.pubsub.bus import EventBus
from cpqsync_sandbox.org.pubsub.errors import AUTH_ERROR, SERVICE_UNAVAILABLE, PubSubFailure
from cpqsync_sandbox.org.pubsub.outages import UnaryOutages
from cpqsync_sandbox.org.pubsub.servicer import PubSubServicer
from cpqsync_sandbox.org.pubsub.subscription import ActiveStreams, StreamSettings

DEFAULT_KEEPALIVE_S = 30.0
DEFAULT_MAX_STREAMS = 32


class PubSubServer:
    """Serve ``bus`` on ``host:port`` (port 0 picks a free one; see :attr:`target`)."""

    def __init__(
        self,
        bus: EventBus,
        host: str,
        port: int,
        tls_cert_pem: bytes | None,
        tls_key_pem: bytes | None,
        authenticate: Callable[[Mapping[str, str]], bool],
        keepalive_s: float = DEFAULT_KEEPALIVE_S,
        *,
        pending_timeout_s: float = 60.0,
        max_streams: int = DEFAULT_MAX_STREAMS,
    ) -> None:
        if (tls_cert_pem is None) != (tls_key_pem is None):
            raise ValueError("give both a TLS certificate and its key, or neither (plaintext)")
        if keepalive_s <= 0:
            raise ValueError(f"keepalive_s must be positive, got {keepalive_s}")
        self.bus = bus
        self._host = host
        self._port = port
        self._cert = tls_cert_pem
        self._key = tls_key_pem
        self._streams = ActiveStreams(bus)
        self.outages = UnaryOutages()
        self._settings = StreamSettings(
            keepalive_s=keepalive_s, pending_timeout_s=pending_timeout_s
        )
        self._authenticate = authenticate
        self._max_streams = max_streams
        self._server: grpc.Server | None = None
        self._bound_port: int | None = None

    @property
    def tls(self) -> bool:
        return self._cert is not None

    @property
    def target(self) -> str:
        """``host:port`` to dial once started."""
        if self._bound_port is None:
            raise RuntimeError("the Pub/Sub server is not started")
        return f"{self._host}:{self._bound_port}"

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("the Pub/Sub server is already started")
        pb2, pb2_grpc = load()
        # Each Subscribe stream holds one worker for its lifetime; keep some for unary calls.
        server = grpc.server(
            futures.ThreadPoolExecutor(
                max_workers=self._max_streams + 8, thread_name_prefix="pubsub-rpc"
            ),
            options=[
                ("grpc.keepalive_permit_without_calls", 1),
                ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
                ("grpc.http2.max_pings_without_data", 0),
                ("grpc.max_receive_message_length", 4 * 1024 * 1024),
            ],
            maximum_concurrent_rpcs=self._max_streams + 8,
        )
        servicer = PubSubServicer(
            pb2=pb2,
            bus=self.bus,
            authenticate=self._authenticate,
            settings=self._settings,
            streams=self._streams,
            outages=self.outages,
        )
        pb2_grpc.add_PubSubServicer_to_server(servicer, server)
        address = f"{self._host}:{self._port}"
        if self._cert is not None and self._key is not None:
            credentials = grpc.ssl_server_credentials([(self._key, self._cert)])
            bound = server.add_secure_port(address, credentials)
        else:
            bound = server.add_insecure_port(address)
        if bound == 0:
            raise OSError(f"could not bind the Pub/Sub server to {address}")
        server.start()
        self._server = server
        self._bound_port = bound

    def stop(self, grace_s: float = 1.0) -> None:
        if self._server is None:
            return
        self._streams.fail_all(
            PubSubFailure(grpc.StatusCode.UNAVAILABLE, SERVICE_UNAVAILABLE, "server shutting down")
        )
        self._server.stop(grace_s).wait()
        self._server = None
        self._bound_port = None

    # --- fault injection --------------------------------------------------------------------

    @property
    def active_streams(self) -> int:
        return self._streams.count()

    def disconnect_streams(self) -> int:
        """End every live Subscribe with UNAVAILABLE / ``service.unavailable`` (a server
        restart); returns how many were live. Clients should back off and resubscribe."""
        return self._streams.fail_all(
            PubSubFailure(
                grpc.StatusCode.UNAVAILABLE,
                SERVICE_UNAVAILABLE,
                "the service is temporarily unavailable; retry with backoff",
            )
        )

    def expire_sessions(self) -> int:
        """End every live Subscribe with UNAUTHENTICATED / ``service.auth.error`` (the session
        expired mid-stream); clients log in again and resubscribe from their stored id."""
        return self._streams.fail_all(
            PubSubFailure(
                grpc.StatusCode.UNAUTHENTICATED,
                AUTH_ERROR,
                "the session expired; log in again and resubscribe",
            )
        )

    def fail_get_schema(self, duration_s: float) -> None:
        """Answer every ``GetSchema`` with UNAVAILABLE / ``service.unavailable`` for the next
        ``duration_s`` seconds (a service restart); subscriptions keep working."""
        self.outages.start("GetSchema", duration_s)

    def set_delivery_allocation(self, limit: int | None) -> None:
        """Cap further event deliveries (``subscription.limit.exceeded`` once spent)."""
        self.bus.set_delivery_allocation(limit)
