"""OAuth 2.0 against a Salesforce login URL: one valid access token per process.

Every role (bridge, sync, writeback) holds one :class:`SalesforceAuth`. Many
threads can notice an expired token at once; :meth:`SalesforceAuth.refresh`
takes the session the caller saw fail, so only the first caller logs in again
and the others pick up the new session instead of stampeding the token endpoint.

The token, the client secret, the password and the private key never appear in
an exception message: errors carry Salesforce's ``error``/``error_description``
and the flow, which is what an operator needs to fix the configuration.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import jwt
import requests
from pydantic import SecretStr

from cpqsync.observability.http_requests import DEFAULT_POOL_SIZE
from cpqsync.observability.logging import register_secrets
from cpqsync.salesforce.http_session import http_session
from cpqsync.settings import SalesforceSettings

log = logging.getLogger(__name__)

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Salesforce accepts assertions valid for at most three minutes.
JWT_LIFETIME_S = 180


class SalesforceAuthError(RuntimeError):
    """Login failed; the message says which flow and what Salesforce answered."""


class SalesforceLoginUnreachable(SalesforceAuthError):
    """The login endpoint gave no answer (network, DNS, TLS, timeout) or a 5xx (maintenance,
    an incident): an outage, not a wrong credential."""


@dataclass(frozen=True)
class SalesforceSession:
    """An access token and where it is valid.

    ``org_id`` is the 18-character org id Pub/Sub expects as ``tenantid``.
    """

    access_token: SecretStr
    instance_url: str
    org_id: str
    user_id: str
    issued_at: dt.datetime

    def __repr__(self) -> str:
        return (
            f"SalesforceSession(instance_url={self.instance_url!r}, org_id={self.org_id!r}, "
            f"user_id={self.user_id!r}, issued_at={self.issued_at.isoformat()})"
        )


class SalesforceAuth:
    """Logs in with the configured flow and hands out the current session."""

    def __init__(
        self,
        settings: SalesforceSettings,
        http: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
        pool_size: int = DEFAULT_POOL_SIZE,
    ) -> None:
        """``pool_size``: how many threads share the HTTP session (the role's workers)."""
        _check_flow_settings(settings)
        if settings.auth_flow == "password":
            log.warning(
                "salesforce.auth_flow=password: the OAuth username-password flow is blocked by "
                "default in orgs created since Summer '23 and is being retired; use jwt_bearer"
            )
        self._settings = settings
        self._http = http or http_session(settings, pool_size)
        self._clock = clock
        self._lock = threading.Lock()
        self._session: SalesforceSession | None = None
        self.logins = 0

    @property
    def settings(self) -> SalesforceSettings:
        return self._settings

    @property
    def http(self) -> requests.Session:
        """The TLS-configured HTTP session, shared with the REST client."""
        return self._http

    def session(self) -> SalesforceSession:
        """The current session, logging in on first use."""
        with self._lock:
            if self._session is None:
                self._session = self._login()
            return self._session

    def refresh(self, stale: SalesforceSession | None = None) -> SalesforceSession:
        """Log in again unless another thread already replaced ``stale``.

        Pass the session whose token Salesforce rejected; ``None`` forces a login.
        """
        with self._lock:
            if stale is None or self._session is None or self._session is stale:
                self._session = self._login()
            return self._session

    def _login(self) -> SalesforceSession:
        flow = self._settings.auth_flow
        form = _FLOWS[flow](self._settings, self._clock)
        url = token_url(self._settings.login_url)
        try:
            response = self._http.post(url, data=form, headers={"Accept": "application/json"})
        except requests.RequestException as exc:
            raise SalesforceLoginUnreachable(
                f"Salesforce login ({flow}) to {url} failed: {type(exc).__name__}"
            ) from None
        body = _json_or_none(response)
        if response.status_code >= 500:
            raise SalesforceLoginUnreachable(
                _describe_failure(flow, url, response.status_code, body)
            )
        if response.status_code != 200 or body is None or "access_token" not in body:
            raise SalesforceAuthError(_describe_failure(flow, url, response.status_code, body))
        token = str(body["access_token"])
        register_secrets([token])
        instance_url = str(body.get("instance_url") or "").rstrip("/")
        if not instance_url:
            raise SalesforceAuthError(f"Salesforce login ({flow}): response has no instance_url")
        org_id, user_id = _identity(body.get("id"))
        if not org_id:
            org_id, user_id = self._userinfo(instance_url, token)
        self.logins += 1
        return SalesforceSession(
            access_token=SecretStr(token),
            instance_url=instance_url,
            org_id=org_id,
            user_id=user_id,
            issued_at=_issued_at(body.get("issued_at"), self._clock),
        )

    def _userinfo(self, instance_url: str, token: str) -> tuple[str, str]:
        """Fallback for token responses without an ``id`` URL."""
        url = f"{instance_url}/services/oauth2/userinfo"
        try:
            response = self._http.get(url, headers={"Authorization": f"Bearer {token}"})
        except requests.RequestException as exc:
            raise SalesforceAuthError(f"userinfo at {url} failed: {type(exc).__name__}") from None
        body = _json_or_none(response)
        if response.status_code != 200 or body is None or "organization_id" not in body:
            raise SalesforceAuthError(f"userinfo at {url} answered HTTP {response.status_code}")
        return str(body["organization_id"]), str(body.get("user_id") or "")


def token_url(login_url: str) -> str:
    return f"{login_url.rstrip('/')}/services/oauth2/token"


# The settings each login flow needs (all under ``salesforce.``).
FLOW_SETTINGS: dict[str, tuple[str, ...]] = {
    "jwt_bearer": ("client_id", "username", "private_key_file"),
    "client_credentials": ("client_id", "client_secret"),
    "password": ("client_id", "client_secret", "username", "password"),
}


def missing_flow_settings(settings: SalesforceSettings) -> list[str]:
    """The settings the configured flow needs that are unset or empty, as ``salesforce.x``."""
    missing = []
    for name in FLOW_SETTINGS[settings.auth_flow]:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if not value:
            missing.append(f"salesforce.{name}")
    return missing


def _check_flow_settings(settings: SalesforceSettings) -> None:
    """Fail at start-up, naming the missing setting, rather than at the first login."""
    missing = missing_flow_settings(settings)
    if missing:
        raise SalesforceAuthError(
            f"salesforce.auth_flow={settings.auth_flow} needs {', '.join(missing)}"
        )


def _jwt_bearer_form(settings: SalesforceSettings, clock: Callable[[], float]) -> dict[str, str]:
    key_path = Path(str(settings.private_key_file))
    try:
        private_key = key_path.read_bytes()
    except OSError as exc:
        raise SalesforceAuthError(
            f"salesforce.private_key_file {key_path} cannot be read: {exc.strerror}"
        ) from None
    claims = {
        "iss": settings.client_id,
        "sub": settings.username,
        "aud": jwt_audience(settings),
        "exp": int(clock()) + JWT_LIFETIME_S,
    }
    try:
        assertion = jwt.encode(claims, private_key, algorithm="RS256")
    except (ValueError, TypeError, jwt.PyJWTError) as exc:
        raise SalesforceAuthError(
            f"salesforce.private_key_file {key_path} is not a usable RSA private key "
            f"({type(exc).__name__})"
        ) from None
    return {"grant_type": JWT_BEARER_GRANT, "assertion": assertion}


def _client_credentials_form(
    settings: SalesforceSettings, clock: Callable[[], float]
) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": str(settings.client_id),
        "client_secret": _secret(settings.client_secret),
    }


def _password_form(settings: SalesforceSettings, clock: Callable[[], float]) -> dict[str, str]:
    return {
        "grant_type": "password",
        "client_id": str(settings.client_id),
        "client_secret": _secret(settings.client_secret),
        "username": str(settings.username),
        "password": _secret(settings.password),
    }


_FLOWS: dict[str, Callable[[SalesforceSettings, Callable[[], float]], dict[str, str]]] = {
    "jwt_bearer": _jwt_bearer_form,
    "client_credentials": _client_credentials_form,
    "password": _password_form,
}


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""


def jwt_audience(settings: SalesforceSettings) -> str:
    """The ``aud`` Salesforce verifies: its generic authorization server, test for sandboxes.

    The assertion is posted to ``login_url`` (preferably the org's My Domain), but the
    audience stays the generic host whatever URL the token request goes to.
    """
    host = (urlparse(settings.login_url).hostname or "").lower()
    sandbox = (
        settings.is_sandbox
        or host == "test.salesforce.com"
        or host.endswith(".sandbox.my.salesforce.com")
    )
    return "https://test.salesforce.com" if sandbox else "https://login.salesforce.com"


def _identity(id_url: Any) -> tuple[str, str]:
    """Org and user id from the identity URL ``…/id/<orgId>/<userId>``."""
    if not isinstance(id_url, str):
        return "", ""
    parts = urlparse(id_url).path.rstrip("/").split("/")
    if len(parts) >= 3 and parts[-3] == "id":
        return parts[-2], parts[-1]
    return "", ""


def _issued_at(raw: Any, clock: Callable[[], float]) -> dt.datetime:
    try:
        millis = int(raw)
    except (TypeError, ValueError):
        millis = int(clock() * 1000)
    return dt.datetime.fromtimestamp(millis / 1000, tz=dt.UTC)


def _json_or_none(response: requests.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _describe_failure(flow: str, url: str, status: int, body: dict[str, Any] | None) -> str:
    detail = ""
    if body is not None:
        error = body.get("error") or body.get("errorCode") or ""
        description = body.get("error_description") or body.get("message") or ""
        detail = f": {error} {description}".rstrip()
    return f"Salesforce login ({flow}) to {url} answered HTTP {status}{detail}"
