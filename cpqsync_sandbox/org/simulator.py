"""``OrgSimulator``: one in-memory Salesforce org served over HTTPS REST and gRPC Pub/Sub.

Tests, benchmarks and ``cpqsync sandbox org`` all start the org through this facade, so they
get the same credentials, certificates and wiring (store -> change events -> Pub/Sub).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Any

from cpqsync_sandbox.org import coupon_actions, cpq_actions, renewal_actions
from cpqsync_sandbox.org.cpq_actions import AmendmentLine, NewMdqProduct
from cpqsync_sandbox.org.dataset import (
    STANDARD_PRICEBOOK_REF,
    LoadedDataset,
    load_dataset,
    read_dataset,
)
from cpqsync_sandbox.org.dataset_generator import generate_orders
from cpqsync_sandbox.org.ids import IdFactory
from cpqsync_sandbox.org.oauth import OrgCredentials, SessionRegistry, TokenIssuer
from cpqsync_sandbox.org.query_engine import QueryResult, execute
from cpqsync_sandbox.org.rest.bulk_jobs import BulkQueryJobs
from cpqsync_sandbox.org.rest.context import ApiUsage, RequestLogEntry, RestContext
from cpqsync_sandbox.org.rest.server import RestServer, server_ssl_context
from cpqsync_sandbox.org.schema import OBJECTS
from cpqsync_sandbox.org.store import ErrorCondition, OrgStore, Record, ValidationRule
from cpqsync_sandbox.org.tls import generate_server_certificates, generate_signing_key_pair

log = logging.getLogger(__name__)

# Documented defaults (README): a sandbox-only org, so fixed credentials are a convenience.
DEFAULT_USERNAME = "integration@cpqsync.sandbox"
DEFAULT_PASSWORD = "cpqsync-sandbox-password"
DEFAULT_CLIENT_ID = "3MVG9cpqsync.sandbox.consumer.key"
DEFAULT_CLIENT_SECRET = "cpqsync-sandbox-consumer-secret"
DEFAULT_API_VERSION = "62.0"


class OrgSimulator:
    """A simulated org; use as a context manager or call :meth:`start` / :meth:`stop`."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        rest_port: int = 0,
        grpc_port: int = 0,
        dataset: Path | None = None,
        grpc_plaintext: bool = False,
        *,
        generated_orders: int = 0,
        username: str = DEFAULT_USERNAME,
        password: str = DEFAULT_PASSWORD,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        daily_api_limit: int = 100_000,
        api_version: str = DEFAULT_API_VERSION,
        start_pubsub: bool = True,
    ) -> None:
        self.host = host
        self._rest_port = rest_port
        self._grpc_port = grpc_port
        self._dataset_path = dataset
        self.grpc_plaintext = grpc_plaintext
        self.api_version = api_version
        self._want_pubsub = start_pubsub
        self._generated_orders = generated_orders
        ids = IdFactory()
        self.org_id = ids.new_id("00D")
        self.user_id = ids.new_id("005")
        self.username = username
        self.password = password
        self.client_id = client_id
        self.client_secret = client_secret
        self._workdir = Path(tempfile.mkdtemp(prefix="cpqsync-org-"))
        self._certs = generate_server_certificates(self._workdir / "tls", _cert_hosts(host))
        self._jwt = generate_signing_key_pair(self._workdir / "jwt")
        self.store = OrgStore(org_id=self.org_id, user_id=self.user_id, username=username, ids=ids)
        cpq_actions.install(self.store)
        coupon_actions.install(self.store)
        credentials = OrgCredentials(
            org_id=self.org_id,
            user_id=self.user_id,
            username=username,
            password=password,
            client_id=client_id,
            client_secret=client_secret,
            jwt_certificate_pem=self._jwt.certificate.read_bytes(),
        )
        self.sessions = SessionRegistry(self.org_id)
        self.issuer = TokenIssuer(credentials, self.sessions)
        self._ctx = RestContext(
            store=self.store,
            issuer=self.issuer,
            host=host,
            usage=ApiUsage(daily_api_limit),
        )
        self._rest: RestServer | None = None
        self.pubsub: Any = None  # cpqsync_sandbox.org.pubsub.server.PubSubServer once started
        self.publisher: Any = None  # cpqsync_sandbox.org.cdc.publisher.ChangePublisher
        self.dataset = LoadedDataset()
        self._started = False

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> OrgSimulator:
        if self._started:
            raise RuntimeError("the org simulator is already started")
        try:
            standard = self.store.create(
                "Pricebook2",
                {"Name": "Standard Price Book", "IsActive": True, "IsStandard": True},
                system=True,
            )
            self.dataset.refs[STANDARD_PRICEBOOK_REF] = standard
            if self._want_pubsub:
                self._start_pubsub()
            if self._dataset_path is not None:
                load_dataset(self.store, read_dataset(self._dataset_path), self.dataset)
            if self._generated_orders:
                generate_orders(self.store, self.dataset, self._generated_orders)
            self._rest = RestServer(
                self._ctx,
                self._rest_port,
                server_ssl_context(self._certs.server_cert, self._certs.server_key),
            )
            self._rest.start()
        except BaseException:
            self.stop()
            raise
        self._started = True
        return self

    def _start_pubsub(self) -> None:
        """HOOK (Pub/Sub engineer's side): publish store changes and serve them over gRPC.

        Imports the CDC publisher and the Pub/Sub server if those packages are present, so the
        REST side works on its own while they are being built.
        """
        try:
            from cpqsync_sandbox.org.cdc.publisher import ChangePublisher
            from cpqsync_sandbox.org.pubsub.bus import EventBus
            from cpqsync_sandbox.org.pubsub.server import PubSubServer
        except ImportError as exc:
            log.warning("Pub/Sub server not available (%s); serving REST only", exc)
            return
        bus = EventBus()
        self.publisher = ChangePublisher(bus, OBJECTS)
        self.store.add_change_listener(self.publisher.on_change)
        tls_cert = None if self.grpc_plaintext else self._certs.server_cert_pem
        tls_key = None if self.grpc_plaintext else self._certs.server_key_pem
        self.pubsub = PubSubServer(
            bus, self.host, self._grpc_port, tls_cert, tls_key, self._authenticate_grpc
        )
        self.pubsub.start()

    def _authenticate_grpc(self, metadata: Mapping[str, str]) -> bool:
        """Pub/Sub metadata: a live access token for this org (``tenantid`` = org id)."""
        token = metadata.get("accesstoken", "")
        tenant = metadata.get("tenantid", "")
        return self.sessions.check(token) is not None and tenant in (
            self.org_id,
            self.org_id[:15],
        )

    def stop(self) -> None:
        if self._rest is not None:
            self._rest.stop()
            self._rest = None
        if self.pubsub is not None:
            self.pubsub.stop()
            self.pubsub = None
        self._started = False
        shutil.rmtree(self._workdir, ignore_errors=True)

    def __enter__(self) -> OrgSimulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- where and how to connect ----------------------------------------------------------------

    @property
    def rest_url(self) -> str:
        """The instance URL (``https://127.0.0.1:<port>``)."""
        if self._rest is None:
            raise RuntimeError("the org simulator is not started")
        return self._ctx.base_url

    @property
    def login_url(self) -> str:
        """Where OAuth and SOAP logins go: the same host, as with a My Domain login."""
        return self.rest_url

    @property
    def grpc_target(self) -> str | None:
        return None if self.pubsub is None else str(self.pubsub.target)

    @property
    def ca_cert(self) -> Path:
        """The CA that signed the server certificate (REST and gRPC): give it to clients."""
        return self._certs.ca_cert

    @property
    def private_key_pem(self) -> Path:
        """The JWT bearer signing key whose certificate the connected app holds."""
        return self._jwt.private_key

    @property
    def jwt_certificate(self) -> Path:
        return self._jwt.certificate

    def ready_line(self) -> dict[str, Any]:
        """What ``cpqsync sandbox org`` prints once ready, for scripts."""
        return {
            "rest_url": self.rest_url,
            "login_url": self.login_url,
            "grpc_target": self.grpc_target,
            "username": self.username,
            "password": self.password,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "org_id": self.org_id,
            "ca_cert": str(self.ca_cert),
            "private_key_file": str(self.private_key_pem),
            "api_version": self.api_version,
        }

    def issue_token(self) -> str:
        """A valid access token without an HTTP round trip (tests that don't test login)."""
        return self.sessions.issue(self.user_id).token

    def expire_sessions(self) -> None:
        """Invalidate every access token: REST answers INVALID_SESSION_ID until re-login."""
        self.sessions.expire_all()

    # -- Python DML, as tests drive the org ------------------------------------------------------

    def create(self, object_name: str, fields: Mapping[str, Any]) -> str:
        return self.store.create(object_name, fields)

    def update(self, object_name: str, record_id: str, fields: Mapping[str, Any]) -> None:
        self.store.update(object_name, record_id, fields)

    def delete(self, object_name: str, record_id: str) -> None:
        self.store.delete(object_name, record_id)

    def undelete(self, object_name: str, record_id: str) -> None:
        self.store.undelete(object_name, record_id)

    def upsert(
        self, object_name: str, external_field: str, value: str, fields: Mapping[str, Any]
    ) -> tuple[str, bool]:
        return self.store.upsert(object_name, external_field, value, fields)

    def get(self, object_name: str, record_id: str) -> Record:
        return self.store.get(object_name, record_id)

    def query(self, soql: str, *, include_deleted: bool = False) -> QueryResult:
        """All matching records, REST-shaped (no pagination)."""
        return execute(
            self.store, soql, include_deleted=include_deleted, api_version=self.api_version
        )

    def activate_order(self, order_id: str) -> None:
        self.store.activate_order(order_id)

    def contract_order(self, order_id: str) -> str:
        """CPQ's "Contracted": a Contract for an activated order; returns the contract id."""
        return cpq_actions.contract_order(self.store, order_id)

    def amend_contract(
        self, contract_id: str, start: date, lines: Sequence[AmendmentLine | NewMdqProduct]
    ) -> str:
        """A Draft amendment order (with its opportunity and quote) on a contract."""
        return cpq_actions.amend_contract(self.store, contract_id, start, lines)

    def cancel_contract(self, contract_id: str, start: date) -> str:
        """A Draft amendment order taking every live line of a contract to zero from ``start``."""
        return cpq_actions.cancel_contract(self.store, contract_id, start)

    def renew_contract(self, contract_id: str) -> str:
        """A Draft renewal order (with its opportunity and quote) of a contract (A3)."""
        return renewal_actions.renew_contract(self.store, contract_id)

    def add_validation_rule(
        self,
        object_name: str,
        error_condition: ErrorCondition,
        message: str,
        fields: tuple[str, ...] = (),
    ) -> ValidationRule:
        return self.store.add_validation_rule(object_name, error_condition, message, fields)

    # -- observing and breaking the API ----------------------------------------------------------

    @property
    def request_log(self) -> list[RequestLogEntry]:
        return self._ctx.request_log.entries()

    def clear_request_log(self) -> None:
        self._ctx.request_log.clear()

    @property
    def api_usage(self) -> ApiUsage:
        """Daily API allocation; ``api_usage.fail_next(n)`` injects REQUEST_LIMIT_EXCEEDED."""
        return self._ctx.usage

    @property
    def bulk_jobs(self) -> BulkQueryJobs:
        """Bulk API 2.0 query jobs; ``fail_next``, ``enabled`` and set sizes for tests."""
        return self._ctx.bulk

    def set_unavailable(self, unavailable: bool = True) -> None:
        """Start (or end) an outage: every REST call, logins included, answers 503."""
        self._ctx.unavailable = unavailable

    def set_query_batch_size(self, size: int) -> None:
        """Default page size of query results (a real org uses 2,000)."""
        self._ctx.batch_size = size

    def expected_error(self, record_id: str) -> str | None:
        """The error the dataset documents for a deliberately bad record."""
        return self.dataset.expected_errors.get(record_id)

    def add_change_listener(self, listener: Callable[..., None]) -> None:
        self.store.add_change_listener(listener)


def _cert_hosts(host: str) -> list[str]:
    hosts = [host, "127.0.0.1", "localhost"]
    if host in ("0.0.0.0", "::"):
        hosts.remove(host)
    return hosts
