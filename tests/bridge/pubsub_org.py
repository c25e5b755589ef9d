"""A real-shaped org for bridge tests: the simulator's CDC publisher, event bus and gRPC server.

Transactions enter through the CDC contract (``ChangeBatch``, what the store hands
CDC on commit), so these tests do not depend on record validation; everything from
there on is the simulator's own code. The only stand-in is the login, which
``StaticAuth`` replaces with a fixed session at our own seam
(``SalesforceAuth.session/refresh``); the OAuth flows are tested against the
simulator's token endpoint separately.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from cpqsync.salesforce.auth import SalesforceSession
from cpqsync.settings import SalesforceSettings
from cpqsync_sandbox.org.cdc.publisher import ChangePublisher
from cpqsync_sandbox.org.changes import ChangeBatch, RecordChange
from cpqsync_sandbox.org.pubsub.bus import EventBus
from cpqsync_sandbox.org.pubsub.server import PubSubServer
from cpqsync_sandbox.org.schema import OBJECTS

ORG_ID = "00D000000000001AAA"
USER_ID = "005000000000001AAA"
INSTANCE_URL = "https://127.0.0.1:1"
_serial = itertools.count(1)


def account_id() -> str:
    return f"001{next(_serial):012d}AAA"


class StaticAuth:
    """Hands out session ``token-N``; ``refresh`` moves to the next token like a re-login."""

    def __init__(self, settings: SalesforceSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self.logins = 0
        self._session = self._new()

    def _new(self) -> SalesforceSession:
        self.logins += 1
        return SalesforceSession(
            access_token=SecretStr(f"token-{self.logins}"),
            instance_url=INSTANCE_URL,
            org_id=ORG_ID,
            user_id=USER_ID,
            issued_at=dt.datetime.now(dt.UTC),
        )

    def session(self) -> SalesforceSession:
        with self._lock:
            return self._session

    def refresh(self, stale: SalesforceSession | None = None) -> SalesforceSession:
        with self._lock:
            if stale is None or stale is self._session:
                self._session = self._new()
            return self._session


@dataclass
class PubSubOrg:
    bus: EventBus
    publisher: ChangePublisher
    server: PubSubServer
    valid_tokens: set[str]

    def commit(self, *changes: tuple[str, str, str, dict[str, Any], list[str]]) -> list[bytes]:
        """Commit one transaction of ``(entity, change_type, record_id, values, nulled)``."""
        now = dt.datetime.now(dt.UTC)
        key = uuid.uuid4().hex
        number = self.bus.next_commit_number()
        records = [
            RecordChange(
                entity=entity,
                change_type=change_type,  # type: ignore[arg-type]
                record_id=record_id,
                changed_fields=[*values] if change_type == "UPDATE" else [],
                nulled_fields=nulled,
                new_values=values,
                old_values=None,
                transaction_key=key,
                sequence_number=n,
                commit_timestamp=now,
                commit_number=number,
                commit_user=USER_ID,
            )
            for n, (entity, change_type, record_id, values, nulled) in enumerate(changes, 1)
        ]
        return self.publisher.on_change(ChangeBatch(key, number, now, USER_ID, records))

    def create_accounts(self, count: int, prefix: str = "Acme") -> list[str]:
        """``count`` single-record transactions, like ``count`` REST creates."""
        ids = []
        for _ in range(count):
            record_id = account_id()
            self.commit(("Account", "CREATE", record_id, {"Name": f"{prefix} {record_id}"}, []))
            ids.append(record_id)
        return ids

    def update(
        self, entity: str, record_id: str, values: dict[str, Any], nulled: list[str] | None = None
    ) -> None:
        self.commit((entity, "UPDATE", record_id, values, nulled or []))

    def settings(self, **overrides: Any) -> SalesforceSettings:
        return SalesforceSettings(
            pubsub_target=self.server.target, pubsub_plaintext=True, **overrides
        )


@contextmanager
def pubsub_org(keepalive_s: float = 1.0) -> Iterator[PubSubOrg]:
    bus = EventBus()
    publisher = ChangePublisher(bus, OBJECTS)
    valid = {f"token-{n}" for n in range(1, 50)}

    def authenticate(metadata: Mapping[str, str]) -> bool:
        return metadata.get("accesstoken") in valid and metadata.get("tenantid") == ORG_ID

    server = PubSubServer(bus, "127.0.0.1", 0, None, None, authenticate, keepalive_s=keepalive_s)
    server.start()
    try:
        yield PubSubOrg(bus, publisher, server, valid)
    finally:
        server.stop(0)
