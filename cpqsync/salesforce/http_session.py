"""The ``requests`` session every Salesforce HTTP call goes through.

Two traps make a plain ``requests.Session()`` wrong for us. ``requests`` has no
default timeout, so a silent peer would hang a role forever. And with a private
CA (the org simulator's, a corporate proxy's) an environment
``REQUESTS_CA_BUNDLE`` silently overrides ``Session.verify``; when a CA bundle
is configured we therefore stop the session from reading the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from cpqsync.observability.http_requests import DEFAULT_POOL_SIZE, count_requests
from cpqsync.settings import SalesforceSettings


class TimeoutSession(requests.Session):
    """A session that applies a default timeout to every request that sets none."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__()
        self.default_timeout_s = timeout_s

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self.default_timeout_s)
        return super().request(method, url, *args, **kwargs)


def http_session(
    settings: SalesforceSettings, pool_size: int = DEFAULT_POOL_SIZE
) -> requests.Session:
    """A session honouring ``salesforce.ca_bundle`` and ``salesforce.request_timeout_s``,
    counting its requests, with a pool for ``pool_size`` threads."""
    session = TimeoutSession(settings.request_timeout_s)
    count_requests(session, "salesforce", pool_size)
    if settings.ca_bundle is not None:
        ca_bundle = Path(settings.ca_bundle)
        if not ca_bundle.is_file():
            raise FileNotFoundError(f"salesforce.ca_bundle: no such file: {ca_bundle}")
        session.verify = str(ca_bundle)
        # Otherwise REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE would win over session.verify.
        session.trust_env = False
    return session
