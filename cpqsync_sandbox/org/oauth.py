"""The org's identity side: its one integration user, connected app, sessions, and OAuth grants.

Grants are checked the way a real org checks them (JWT bearer: RS256 signature against the
connected app's certificate, ``iss`` = consumer key, ``sub`` = username, ``aud`` = the generic
login host (``https://login.salesforce.com`` or ``https://test.salesforce.com``),
unexpired; client credentials: key + secret; password: user, password, key + secret), and
failures answer with OAuth's ``{"error", "error_description"}`` body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from cryptography import x509

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# The audiences Salesforce documents for the JWT bearer flow: its generic authorization
# servers, whichever login URL (My Domain or generic) the assertion is posted to.
_GENERIC_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")


@dataclass(frozen=True)
class OrgCredentials:
    """Who may log in: the integration user and the connected app it uses."""

    org_id: str
    user_id: str
    username: str
    password: str
    client_id: str
    client_secret: str
    jwt_certificate_pem: bytes


class OAuthError(Exception):
    """An OAuth failure: rendered as ``{"error", "error_description"}`` with ``status``."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass(frozen=True)
class Session:
    token: str
    user_id: str
    issued_at: datetime
    expires_at: datetime


class SessionRegistry:
    """Access tokens the org has issued; tests can expire them to exercise re-login."""

    def __init__(
        self,
        org_id: str,
        lifetime: timedelta = timedelta(hours=2),
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._org_id = org_id
        self._lifetime = lifetime
        self._clock = clock or (lambda: datetime.now(UTC))
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def issue(self, user_id: str) -> Session:
        now = self._clock()
        # Real tokens look like "<orgId>!<opaque>"; some tools split on the "!".
        token = f"{self._org_id[:15]}!{secrets.token_urlsafe(48)}"
        session = Session(token, user_id, now, now + self._lifetime)
        with self._lock:
            self._sessions[token] = session
        return session

    def check(self, token: str) -> Session | None:
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None
            if self._clock() >= session.expires_at:
                del self._sessions[token]
                return None
            return session

    def expire_all(self) -> None:
        """Invalidate every token, as an admin revoking sessions (or a timeout) would."""
        with self._lock:
            self._sessions.clear()


class TokenIssuer:
    """Answers ``/services/oauth2/token`` forms, SOAP logins, and identity lookups."""

    def __init__(self, credentials: OrgCredentials, sessions: SessionRegistry) -> None:
        self.credentials = credentials
        self.sessions = sessions
        certificate = x509.load_pem_x509_certificate(credentials.jwt_certificate_pem)
        self._jwt_public_key = certificate.public_key()

    def grant(
        self, form: Mapping[str, str], *, instance_url: str, login_url: str
    ) -> dict[str, str]:
        grant_type = form.get("grant_type", "")
        if grant_type == JWT_BEARER_GRANT:
            self._check_jwt(form.get("assertion", ""))
        elif grant_type == "client_credentials":
            self._check_client(form)
        elif grant_type == "password":
            self._check_client(form)
            self._check_user(form.get("username", ""), form.get("password", ""))
        elif not grant_type:
            raise OAuthError("invalid_request", "grant type not specified")
        else:
            raise OAuthError("unsupported_grant_type", "grant type not supported")
        session = self.sessions.issue(self.credentials.user_id)
        return self.token_response(session, instance_url=instance_url, login_url=login_url)

    def token_response(
        self, session: Session, *, instance_url: str, login_url: str
    ) -> dict[str, str]:
        identity = self.identity_url(login_url)
        issued_at = str(int(session.issued_at.timestamp() * 1000))
        signature = hmac.new(
            self.credentials.client_secret.encode(),
            (identity + issued_at).encode(),
            hashlib.sha256,
        ).digest()
        return {
            "access_token": session.token,
            "signature": base64.b64encode(signature).decode(),
            "scope": "api",
            "instance_url": instance_url,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_at,
        }

    def identity_url(self, login_url: str) -> str:
        c = self.credentials
        return f"{login_url.rstrip('/')}/id/{c.org_id}/{c.user_id}"

    def userinfo(self, session: Session, *, login_url: str, instance_url: str) -> dict[str, object]:
        c = self.credentials
        return {
            "sub": self.identity_url(login_url),
            "user_id": c.user_id,
            "organization_id": c.org_id,
            "preferred_username": c.username,
            "email": c.username,
            "name": "cpqsync Integration",
            "active": True,
            "urls": {
                "rest": f"{instance_url}/services/data/v{{version}}/",
                "sobjects": f"{instance_url}/services/data/v{{version}}/sobjects/",
                "query": f"{instance_url}/services/data/v{{version}}/query/",
            },
        }

    def soap_login(self, username: str, password: str) -> Session:
        """The partner API's ``login()``: user and password (security token not required)."""
        try:
            self._check_user(username, password)
        except OAuthError:
            raise OAuthError(
                "INVALID_LOGIN", "Invalid username, password, security token; or user locked out."
            ) from None
        return self.sessions.issue(self.credentials.user_id)

    # -- checks ----------------------------------------------------------------------------------

    def _check_client(self, form: Mapping[str, str]) -> None:
        if form.get("client_id") != self.credentials.client_id:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        given = form.get("client_secret", "")
        if not hmac.compare_digest(given.encode(), self.credentials.client_secret.encode()):
            raise OAuthError("invalid_client", "invalid client credentials")

    def _check_user(self, username: str, password: str) -> None:
        user_ok = username.casefold() == self.credentials.username.casefold()
        password_ok = hmac.compare_digest(password.encode(), self.credentials.password.encode())
        if not (user_ok and password_ok):
            raise OAuthError("invalid_grant", "authentication failure")

    def _check_jwt(self, assertion: str) -> None:
        if not assertion:
            raise OAuthError("invalid_request", "assertion missing")
        audiences = list(_GENERIC_AUDIENCES)
        try:
            claims = jwt.decode(
                assertion,
                self._jwt_public_key,  # type: ignore[arg-type]
                algorithms=["RS256"],
                audience=audiences,
                options={"require": ["iss", "sub", "aud", "exp"]},
            )
        except jwt.ExpiredSignatureError:
            raise OAuthError("invalid_grant", "expired authorization code") from None
        except jwt.InvalidAudienceError:
            raise OAuthError("invalid_grant", "audience is invalid") from None
        except jwt.InvalidSignatureError:
            raise OAuthError("invalid_grant", "invalid assertion: signature invalid") from None
        except jwt.PyJWTError as exc:
            raise OAuthError("invalid_grant", f"invalid assertion: {exc}") from None
        if claims.get("iss") != self.credentials.client_id:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        if str(claims.get("sub", "")).casefold() != self.credentials.username.casefold():
            raise OAuthError("invalid_grant", "user hasn't approved this consumer")
