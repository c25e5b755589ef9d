"""Credential problems a settings file shows without connecting anywhere.

``cpqsync config check`` reports these beside the schema errors: a required credential
missing or empty (an empty ``${VAR:-}`` in a compose file is the usual cause), a JWT key
file that cannot be read or is not a private key, and a login URL the flow cannot use.
Warnings are for settings that work today but should change.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from pydantic import SecretStr

from cpqsync.salesforce.auth import missing_flow_settings
from cpqsync.settings import Settings

# Generic login hosts: every org's users can start there, but not every flow.
GENERIC_LOGIN_HOSTS = ("login.salesforce.com", "test.salesforce.com")


def credential_problems(settings: Settings) -> list[str]:
    problems = []
    stripe_key = settings.stripe.api_key
    if stripe_key is None:
        problems.append("stripe.api_key: not set (CPQSYNC_STRIPE__API_KEY)")
    elif not stripe_key.get_secret_value().strip():
        problems.append("stripe.api_key: empty (CPQSYNC_STRIPE__API_KEY)")
    endpoint_secret = settings.stripe_events.endpoint_secret
    if endpoint_secret is not None and not endpoint_secret.get_secret_value().strip():
        problems.append("stripe_events.endpoint_secret: empty")
    sf = settings.salesforce
    for name in ("client_secret", "password"):
        value = getattr(sf, name)
        if isinstance(value, SecretStr) and not value.get_secret_value().strip():
            problems.append(f"salesforce.{name}: empty")
    for setting in missing_flow_settings(sf):
        if f"{setting}: empty" not in problems:
            problems.append(f"{setting}: required by salesforce.auth_flow={sf.auth_flow}, not set")
    if sf.auth_flow == "jwt_bearer" and sf.private_key_file is not None:
        key_problem = _private_key_problem(Path(sf.private_key_file))
        if key_problem:
            problems.append(f"salesforce.private_key_file: {key_problem}")
    if sf.auth_flow == "client_credentials" and _login_host(sf.login_url) in GENERIC_LOGIN_HOSTS:
        problems.append(
            f"salesforce.login_url: the client credentials flow needs the org's My Domain "
            f"login URL (https://<my-domain>.my.salesforce.com), not {sf.login_url}"
        )
    if sf.ca_bundle is not None and not Path(sf.ca_bundle).is_file():
        problems.append(f"salesforce.ca_bundle: no such file: {sf.ca_bundle}")
    return problems


def credential_warnings(settings: Settings) -> list[str]:
    sf = settings.salesforce
    warnings = []
    if sf.auth_flow == "password" or sf.password is not None:
        warnings.append(
            "salesforce.password: the OAuth username-password flow is blocked by default in "
            "orgs created since Summer '23 and is being retired; use auth_flow jwt_bearer"
        )
    if sf.auth_flow == "jwt_bearer" and _login_host(sf.login_url) in GENERIC_LOGIN_HOSTS:
        warnings.append(
            f"salesforce.login_url: {sf.login_url} works only while the org allows logins "
            "from the generic host; prefer the org's My Domain login URL"
        )
    return warnings


def _login_host(url: str) -> str:
    return (urlparse(url).hostname or "").lower()


def _private_key_problem(path: Path) -> str | None:
    try:
        data = path.read_bytes()
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror}"
    try:
        load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        return f"{path} is not an unencrypted PEM private key"
    return None
