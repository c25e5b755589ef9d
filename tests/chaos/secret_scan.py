"""Security checks for a chaos run: no secret in anything the connector wrote or served.

The secrets are the real ones of the run: the Stripe key handed to every role, the org's
client secret and password, every access token the org issued (recorded as they are issued),
and the JWT private key (its PEM body lines). The places are everything an operator could read:
each role's captured output across all restarts, every ``/metrics`` page scraped during the
run, the Sync Records in Salesforce, the dead letters and the sync results on Kafka.
"""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cpqsync_sandbox.org.oauth import Session
from cpqsync_sandbox.org.simulator import OrgSimulator
from tests.chaos.roles import RoleProcess


class TokenRecorder:
    """Wraps the org's session registry so every issued access token is known to the test."""

    def __init__(self, org: OrgSimulator) -> None:
        self.tokens: list[str] = []
        self._lock = threading.Lock()
        issue: Callable[[str], Session] = org.sessions.issue

        def recording_issue(user_id: str) -> Session:
            session = issue(user_id)
            with self._lock:
                self.tokens.append(session.token)
            return session

        org.sessions.issue = recording_issue  # type: ignore[method-assign]


def secrets_of(org: OrgSimulator, stripe_key: str, tokens: TokenRecorder) -> dict[str, str]:
    found = {
        "stripe api key": stripe_key,
        "salesforce client secret": org.client_secret,
        "salesforce password": org.password,
    }
    pem = Path(org.private_key_pem).read_text().splitlines()
    for n, line in enumerate(pem):
        if line and not line.startswith("-----"):
            found[f"private key line {n}"] = line
    for n, token in enumerate(tokens.tokens):
        found[f"salesforce access token {n}"] = token
        found[f"salesforce access token {n} (opaque part)"] = token.split("!", 1)[-1]
    return found


@dataclass
class MetricsScraper:
    """Scrapes every live role's ``/metrics`` page and keeps the text."""

    pages: list[str] = field(default_factory=list)

    def scrape(self, roles: Iterable[RoleProcess]) -> None:
        for role in roles:
            if not role.alive():
                continue
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{role.metrics_port}/metrics", timeout=5
                ) as response:
                    self.pages.append(response.read().decode())
            except OSError:
                continue  # starting up or just killed


def leaks(secrets: dict[str, str], places: dict[str, str]) -> list[str]:
    """Which secret appears where (names only: the report must not print the secret)."""
    return [
        f"{secret_name} found in {place}"
        for place, text in places.items()
        for secret_name, secret in secrets.items()
        if len(secret) >= 8 and secret in text
    ]


def listening_addresses(port: int) -> list[str]:
    """IPv4/IPv6 addresses with a listening TCP socket on ``port`` (from /proc/net)."""
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            parts = line.split()
            local, state = parts[1], parts[3]
            address, _, hex_port = local.rpartition(":")
            if state == "0A" and int(hex_port, 16) == port:
                out.append(_address(address))
    return out


def _address(hex_address: str) -> str:
    if len(hex_address) == 8:
        return ".".join(str(int(hex_address[i : i + 2], 16)) for i in (6, 4, 2, 0))
    return "ipv6:" + hex_address


def stored_text(records: Iterable[dict[str, Any]]) -> str:
    return "\n".join(repr(sorted(record.items())) for record in records)
