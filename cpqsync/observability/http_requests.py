"""Counting every HTTP request to Stripe and Salesforce, and sizing the connection pools.

Both clients send through a ``requests`` session, so one transport adapter serves both:
it counts each request by dependency, endpoint and outcome in
``cpqsync_dependency_requests_total`` and holds as many pooled connections as there are
workers sharing the session (a pool smaller than its callers discards connections and
logs "Connection pool is full" for each). Endpoints are path templates, ids replaced by
``{id}`` and API versions by ``{version}``, so the label stays bounded.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Mapping
from urllib.parse import urlsplit

import requests
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.registry import REGISTRY
from requests.adapters import HTTPAdapter

# Connections kept per host when the caller does not say how many threads share a session.
DEFAULT_POOL_SIZE = 10

# Outcomes a request can have: its status class (429 apart: it is pacing, not failure),
# or the transport error that left it without an answer.
OUTCOMES = ("2xx", "3xx", "4xx", "429", "5xx", "timeout", "connection_error")

_VERSION = re.compile(r"^v\d+\.\d+$")  # Salesforce API versions (v62.0), not Stripe's /v1
# Stripe ids: a lowercase prefix, then a random part with capitals or digits (cus_9s6XK…);
# API path words are lowercase (subscription_schedules), so they never match.
_STRIPE_ID = re.compile(r"^[a-z]+(?:_[a-z]+)*_(?=[A-Za-z0-9]*[A-Z0-9])[A-Za-z0-9]+$")
# Salesforce ids (15 or 18 characters) and query cursors (01g…-2000).
_SALESFORCE_ID = re.compile(r"^(?=[A-Za-z0-9-]*[0-9])[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?(-\d+)?$")


class RequestMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "cpqsync_dependency_requests",
            "HTTP requests to Stripe and Salesforce, by endpoint template and outcome "
            "(status class, 429, timeout, connection_error).",
            ("dependency", "endpoint", "outcome"),
            registry=registry,
        )


_lock = threading.Lock()
_by_registry: weakref.WeakKeyDictionary[CollectorRegistry, RequestMetrics] = (
    weakref.WeakKeyDictionary()
)


def request_metrics(registry: CollectorRegistry | None = None) -> RequestMetrics:
    target = REGISTRY if registry is None else registry
    with _lock:
        metrics = _by_registry.get(target)
        if metrics is None:
            metrics = RequestMetrics(target)
            _by_registry[target] = metrics
        return metrics


def endpoint_template(method: str, url: str) -> str:
    """``GET /v1/customers/{id}``: the request's method and path with ids generalised."""
    parts = []
    for segment in urlsplit(url).path.split("/"):
        if _VERSION.match(segment):
            parts.append("{version}")
        elif _STRIPE_ID.match(segment) or _SALESFORCE_ID.match(segment):
            parts.append("{id}")
        else:
            parts.append(segment)
    path = "/".join(parts).rstrip("/") or "/"
    return f"{method.upper()} {path}"


def outcome_of(status: int) -> str:
    return "429" if status == 429 else f"{status // 100}xx"


class CountingAdapter(HTTPAdapter):
    """Counts each request it sends; pools up to ``pool_size`` connections per host."""

    def __init__(
        self, dependency: str, pool_size: int, metrics: RequestMetrics | None = None
    ) -> None:
        super().__init__(pool_connections=4, pool_maxsize=max(1, pool_size))
        self._dependency = dependency
        self._metrics = metrics or request_metrics()

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        endpoint = endpoint_template(str(request.method or "GET"), str(request.url or ""))
        counter = self._metrics.requests
        try:
            response = super().send(request, stream, timeout, verify, cert, proxies)
        except requests.Timeout:
            counter.labels(self._dependency, endpoint, "timeout").inc()
            raise
        except requests.ConnectionError:
            counter.labels(self._dependency, endpoint, "connection_error").inc()
            raise
        counter.labels(self._dependency, endpoint, outcome_of(response.status_code)).inc()
        return response


def count_requests(session: requests.Session, dependency: str, pool_size: int) -> None:
    """Send ``session``'s HTTP and HTTPS requests through a :class:`CountingAdapter`."""
    adapter = CountingAdapter(dependency, pool_size)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
